"""Declaring a setting once: its type, unit, bounds, allowed values and why.

Every configurable parameter is a dataclass field made with `setting()`. The
config checker reads these declarations to validate a TOML file completely, and
the docs and the example config are checked against them, so a parameter's
bounds live in exactly one place.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def setting(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    above: float | None = None,
) -> Any:
    """A dataclass field for one setting. `min`/`max` are inclusive bounds,
    `above` an exclusive lower bound; `choices` lists the allowed strings."""
    meta = {"help": help, "min": min, "max": max, "above": above, "choices": choices}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def describe_bounds(field: dataclasses.Field) -> str:
    """The allowed values of a setting, in words, for error messages and docs."""
    meta = field.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(f'"{c}"' for c in meta["choices"])
    parts = []
    if meta.get("above") is not None:
        parts.append(f"above {meta['above']:g}")
    if meta.get("min") is not None:
        parts.append(f"at least {meta['min']:g}")
    if meta.get("max") is not None:
        parts.append(f"at most {meta['max']:g}")
    if not parts:
        return "any value of its type"
    if field.default is dataclasses.MISSING and isinstance(field.default_factory(), list):
        return f"{len(field.default_factory())} numbers, each " + " and ".join(parts)
    return " and ".join(parts)


def check_value(field: dataclasses.Field, value: Any) -> tuple[Any, str | None]:
    """Convert a TOML value for this field; return (value, error or None)."""
    meta = field.metadata
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            return value, f"must be true or false, not {value!r}"
        return value, None
    if kind is float or kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, f"must be a number, not {value!r}"
        if kind is int and not isinstance(value, int):
            return value, f"must be a whole number, not {value!r}"
        value = kind(value)
        is_within = (
            value == value  # NaN is never within bounds
            and (meta.get("above") is None or value > meta["above"])
            and (meta.get("min") is None or value >= meta["min"])
            and (meta.get("max") is None or value <= meta["max"])
        )
        if not is_within:
            return value, f"is {value!r}, must be {describe_bounds(field)}"
        return value, None
    if kind is list and any(meta.get(k) is not None for k in ("min", "max", "above")):
        return _check_numbers(field, value, len(default))
    if kind is str:
        if not isinstance(value, str):
            return value, f"must be a string, not {value!r}"
        if meta.get("choices") and value not in meta["choices"]:
            return value, f'is "{value}", must be {describe_bounds(field)}'
        return value, None
    return value, None


def _check_numbers(field: dataclasses.Field, value: Any, length: int) -> tuple[Any, str | None]:
    """A list of `length` numbers, each within the field's bounds (a vector setting)."""
    if (not isinstance(value, list) or len(value) != length
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value)):
        return value, f"must be a list of {length} numbers, not {value!r}"
    numbers = [float(x) for x in value]
    element = dataclasses.field(default=0.0, metadata=field.metadata)
    for x in numbers:
        _, error = check_value(element, x)
        if error:
            return value, f"is {value!r}, must be {describe_bounds(field)}"
    return numbers, None
