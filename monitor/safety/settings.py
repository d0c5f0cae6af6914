"""Declaring a setting once: its type, unit, bounds, allowed values and why.

Every configurable parameter is a dataclass field made with `setting()`. The
config checker reads these declarations to validate a TOML file completely, and
the docs and the example config are checked against them, so a parameter's
bounds live in exactly one place.

Rules every setting of a kind gets from here, with no per-key code: a number
(or any number inside a list) must be finite and fit a float; a list may nest
at most `MAX_NESTING` levels; a value shown back in a message is shortened
(`shown`), so a 5,001-digit integer or a megabyte of text gives one short line.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, cast

MAX_NESTING = 3  # list levels a setting may have; a 3x3 mount has 2
MAX_SHOWN = 60  # characters of a value repeated back in a message
MAX_PATH_CHARS = 4096  # Linux PATH_MAX, which counts the terminating NUL: a path has at most 4095 characters
ROTATION_TOLERANCE = 1e-3
_ROTATION_EXAMPLE = "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]"


def setting(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    above: float | None = None,
    kind: str | None = None,
    under: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field for one setting. `min`/`max` are inclusive bounds,
    `above` an exclusive lower bound; `choices` lists the allowed strings.

    `kind` names a shape the type alone does not say: "rotation" (a 3x3
    rotation matrix, or [] for none) or "path" (an absolute folder; `under`
    lists the folders it must be inside)."""
    meta = {"help": help, "min": min, "max": max, "above": above, "choices": choices,
            "kind": kind, "under": under}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def describe_bounds(field: dataclasses.Field) -> str:
    """The allowed values of a setting, in words, for error messages and docs."""
    meta = field.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(f'"{c}"' for c in meta["choices"])
    if meta.get("kind") == "rotation":
        return f"a 3x3 rotation matrix of finite numbers, e.g. {_ROTATION_EXAMPLE}, or [] (none)"
    if meta.get("kind") == "path":
        return "an absolute path of a folder inside " + _or_list([f"{u}/" for u in meta.get("under") or ()])
    parts = []
    if meta.get("above") is not None:
        parts.append(f"above {meta['above']:g}")
    if meta.get("min") is not None:
        parts.append(f"at least {meta['min']:g}")
    if meta.get("max") is not None:
        parts.append(f"at most {meta['max']:g}")
    default = _default(field)
    if not parts:
        return "a finite number" if type(default) in (int, float) else "any value of its type"
    if isinstance(default, list):
        return f"{len(default)} numbers, each " + " and ".join(parts)
    return " and ".join(parts)


def _or_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _default(field: dataclasses.Field) -> Any:
    return field.default if field.default is not dataclasses.MISSING else cast(Callable[[], Any], field.default_factory)()


def shown(value: Any) -> str:
    """`value` as a message repeats it: short, whatever it is (a huge integer
    is named by its number of digits, deep lists by their depth)."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = _digits(value)
        if digits > 20:
            return f"an integer of {digits} digits"
        return repr(value)
    depth = nesting(value)
    if depth > MAX_NESTING:
        return f"a list nested {depth} levels deep"
    text = _bounded_repr(value, MAX_SHOWN + 1)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def _digits(value: int) -> int:
    """Decimal digits of an integer, also past Python's int-to-str limit (4,300 digits)."""
    n = abs(value)
    if n < 10 ** 4000:  # inside the limit
        return len(str(n))
    digits = int(math.log10(n)) + 1  # the float logarithm may be one off at a power of ten
    if 10 ** (digits - 1) > n:
        return digits - 1
    return digits + 1 if 10 ** digits <= n else digits


def _bounded_repr(value: Any, limit: int) -> str:
    """repr(), but stops once `limit` characters are produced (a huge list or string is cut)."""
    if isinstance(value, list):
        out = "["
        for i, item in enumerate(value):
            out += (", " if i else "") + _bounded_repr(item, limit - len(out))
            if len(out) >= limit:
                return out
        return out + "]"
    if isinstance(value, dict):
        out = "{"
        for i, (key, item) in enumerate(value.items()):
            out += (", " if i else "") + _bounded_repr(key, limit) + ": " + _bounded_repr(item, limit - len(out))
            if len(out) >= limit:
                return out
        return out + "}"
    if isinstance(value, str):
        return quoted(value[:limit])
    if isinstance(value, int) and not isinstance(value, bool):
        return shown(value)  # a huge one by its number of digits
    return repr(value)


def nesting(value: Any) -> int:
    """How many list (or table) levels deep a value goes, without recursion, so
    any depth can be measured."""
    depth = 0
    level = [value]
    while level:
        containers = [v for v in level if isinstance(v, (list, dict))]
        if not containers:
            break
        depth += 1
        if depth > 1000:
            return depth  # deep enough to refuse; stop walking
        level = [item for c in containers for item in (c.values() if isinstance(c, dict) else c)]
    return depth


def number_problem(value: Any) -> str | None:
    """Why a number (already known to be an int or a float) cannot be used, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"is {value!r}: every number must be finite"
    if isinstance(value, int) and abs(value) > 2 ** 1023:
        return f"is {shown(value)}, too large for a number"
    return None


def check_value(field: dataclasses.Field, value: Any) -> tuple[Any, str | None]:
    """Convert a TOML value for this field; return (value, error or None)."""
    meta = field.metadata
    default = _default(field)
    kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            return value, f"must be true or false, not {shown(value)}"
        return value, None
    if kind is float or kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, f"must be a number, not {shown(value)}"
        if kind is int and not isinstance(value, int):
            return value, f"must be a whole number, not {shown(value)}"
        problem = number_problem(value)
        if problem:
            return value, f"{problem}; must be {describe_bounds(field)}"
        value = kind(value)
        is_within = (
            (meta.get("above") is None or value > meta["above"])
            and (meta.get("min") is None or value >= meta["min"])
            and (meta.get("max") is None or value <= meta["max"])
        )
        if not is_within:
            return value, f"is {shown(value)}, must be {describe_bounds(field)}"
        return value, None
    if kind is list:
        problem = _list_problem(value)
        if problem:
            return value, f"{problem}; must be {describe_bounds(field)}"
        if meta.get("kind") == "rotation":
            return _check_rotation(value)
        if any(meta.get(k) is not None for k in ("min", "max", "above")):
            return _check_numbers(field, value, len(default))
        return value, None
    if kind is str:
        if not isinstance(value, str):
            return value, f"must be a string, not {shown(value)}"
        if meta.get("choices") and value not in meta["choices"]:
            return value, f"is {quoted(value)}, must be {describe_bounds(field)}"
        if meta.get("kind") == "path":
            return _check_path(field, value)
        return value, None
    return value, None


def quoted(text: str) -> str:
    """A string as a message repeats it: in double quotes, shortened, control characters escaped."""
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN - 3] + "..."
    return '"' + "".join(c if 32 <= ord(c) != 127 else f"\\x{ord(c):02x}" for c in text) + '"'


def _list_problem(value: Any) -> str | None:
    """What no list setting may hold: deep nesting, a number that is not finite."""
    if not isinstance(value, list):
        return None  # the shape check that follows names it
    depth = nesting(value)
    if depth > MAX_NESTING:
        return f"is a list nested {depth} levels deep (at most {MAX_NESTING})"
    level = [value]
    while level:
        numbers = [x for x in level if isinstance(x, (int, float)) and not isinstance(x, bool)]
        for x in numbers:
            problem = number_problem(x)
            if problem:
                return f"holds a number that {problem}"
        level = [item for v in level if isinstance(v, list) for item in v]
    return None


def _check_numbers(field: dataclasses.Field, value: Any, length: int) -> tuple[Any, str | None]:
    """A list of `length` numbers, each within the field's bounds (a vector setting)."""
    if (not isinstance(value, list) or len(value) != length
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value)):
        return value, f"must be a list of {length} numbers, not {shown(value)}"
    numbers = [float(x) for x in value]
    element = cast(dataclasses.Field, dataclasses.field(default=0.0, metadata=field.metadata))  # typed as its default
    for x in numbers:
        _, error = check_value(element, x)
        if error:
            return value, f"is {shown(value)}, must be {describe_bounds(field)}"
    return numbers, None


def _check_rotation(value: list) -> tuple[Any, str | None]:
    """A 3x3 rotation (rows orthonormal, determinant +1), or [] for none."""
    if value == []:
        return value, None
    if (not isinstance(value, list) or len(value) != 3
            or any(not isinstance(row, list) or len(row) != 3 for row in value)
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for row in value for x in row)):
        return value, f"must be a 3x3 list of numbers, e.g. {_ROTATION_EXAMPLE}, not {shown(value)}"
    rows = [[float(x) for x in row] for row in value]
    for i in range(3):
        for j in range(3):
            dot = sum(rows[i][k] * rows[j][k] for k in range(3))
            if not abs(dot - (1.0 if i == j else 0.0)) <= ROTATION_TOLERANCE:
                return value, ("is not a rotation (rows must be unit length and at right angles); "
                               "run `treadguard calibrate`")
    det = (rows[0][0] * (rows[1][1] * rows[2][2] - rows[1][2] * rows[2][1])
           - rows[0][1] * (rows[1][0] * rows[2][2] - rows[1][2] * rows[2][0])
           + rows[0][2] * (rows[1][0] * rows[2][1] - rows[1][1] * rows[2][0]))
    if not abs(det - 1.0) <= ROTATION_TOLERANCE:
        return value, "is a reflection, not a rotation (determinant -1): one axis has the wrong sign"
    return rows, None


def normalized_path(path: str) -> str:
    """An absolute path with "." and ".." and repeated slashes resolved as text
    (what the folder would be, without asking the file system)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _check_path(field: dataclasses.Field, value: str) -> tuple[Any, str | None]:
    """An absolute folder strictly inside one of the declared `under` folders."""
    allowed = describe_bounds(field)
    example = _default(field)
    if not value:
        return value, f'is empty, must be {allowed}, e.g. "{example}"'
    if len(value) >= MAX_PATH_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return value, f"is {quoted(value)}, which no folder can be called (control characters or too long); must be {allowed}"
    if not value.startswith("/"):
        return value, f'is {quoted(value)}, a relative path (it would depend on the folder the service starts in); must be {allowed}, e.g. "{example}"'
    real = normalized_path(value)
    if not any(real.startswith(u.rstrip("/") + "/") for u in field.metadata.get("under") or ()):
        what = f"{quoted(value)}" + (f" (that is {quoted(real)})" if real != value.rstrip("/") else "")
        return value, f'is {what}, a system or device path; must be {allowed}, e.g. "{example}"'
    return value, None
