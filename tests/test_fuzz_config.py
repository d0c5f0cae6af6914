"""Fuzzing the config checker: whatever a file holds, the answer is a Config or a ConfigError.

Hypothesis builds TOML files from the declared sections and keys and from
nonsense: huge integers (past float and past Python's int-to-str limit), NaN and
infinities, deep nesting, unicode and control characters, system paths, wrong
types, and edits of the example config. Each case must end within its time
bound with a Config or a ConfigError of clear one-line problems, and a config
that is accepted must run the monitor's loop without an exception.
Derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import signal
from contextlib import contextmanager
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.config.docs import EXAMPLE_PATH
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import SECTIONS, Config
from monitor.safety.settings import check_value
from monitor.service.sessions.replay import replay
from tests.support import standing_trace

FUZZ = settings(max_examples=100, deadline=timedelta(seconds=5), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
CASE_BOUND_S = 20  # a case still running after this long is a hang


class Hang(Exception):
    pass


@contextmanager
def time_bound(seconds: float):
    """Fail a case that runs past `seconds` (a hang), instead of waiting for it."""
    def expire(signum, frame):
        raise Hang(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Raw(str):
    """Text written into the TOML as it is (a number TOML reads but Python may not)."""


KEYS = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in SECTIONS.items()}
PATHS = ["", "trips", "/", "/etc", "/proc/self", "/sys/x", "/dev/null", "/dev/shm/t", "/boot/t",
         "/var/lib", "/var/lib/treadguard/trips", "/home/pi/t", "/tmp/t", "/srv/../etc", "/tmp/a\x00b",
         "/tmp/\u00e9\u4e2d", "/tmp/" + "x" * 5000]

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 0.0, -0.0, 1e-300, 5e-324, 1e308, -1]),
    st.text(max_size=30),
    st.sampled_from(PATHS),
    st.integers(min_value=20, max_value=6000).map(lambda n: Raw("9" * n)),  # past float, past int->str
    st.sampled_from([Raw("nan"), Raw("+inf"), Raw("-inf"), Raw("1e400"), Raw("0x7fffffffffffffff")]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=8)
deep = st.integers(min_value=2, max_value=3000).map(lambda n: Raw("[" * n + "1" + "]" * n))


def toml_value(value) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


@st.composite
def config_files(draw) -> str:
    """A TOML file: known sections and keys with any values, plus unknown ones."""
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.one_of(st.sampled_from(list(KEYS)), st.text(min_size=1, max_size=12)))
        lines.append(f"[{toml_key(section)}]")
        for _ in range(draw(st.integers(0, 4))):
            key = draw(st.one_of(st.sampled_from(KEYS.get(section) or ["x"]), st.text(min_size=1, max_size=12)))
            lines.append(f"{toml_key(key)} = {toml_value(draw(st.one_of(values, deep)))}")
    return "\n".join(lines) + "\n"


@st.composite
def edited_examples(draw) -> str:
    """The example config with a few lines replaced, dropped, doubled or garbled."""
    lines = EXAMPLE_PATH.read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["value", "drop", "double", "garble"]))
        if edit == "value" and " = " in lines[i]:
            lines[i] = lines[i].split(" = ")[0] + " = " + toml_value(draw(st.one_of(values, deep)))
        elif edit == "drop":
            del lines[i]
        elif edit == "double":
            lines.insert(i, lines[i])
        else:
            lines[i] = draw(st.text(max_size=40))
    return "\n".join(lines) + "\n"


def _check(tmp_path, text: str) -> Config | None:
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with time_bound(CASE_BOUND_S):
        try:
            return load_config(path)
        except ConfigError as err:  # anything else escaping fails the test
            assert err.problems
            for problem in err.problems:
                assert "\n" not in problem and "\r" not in problem and len(problem) < 1200, problem
                assert "could not be checked" not in problem, problem  # the loader's own bug net
            return None


@FUZZ
@given(text=config_files())
def test_any_config_file_gives_a_config_or_clear_problems(tmp_path, text):
    _check(tmp_path, text)


@settings(FUZZ, max_examples=200)
@given(text=edited_examples())
def test_any_edit_of_the_example_gives_a_config_or_clear_problems(tmp_path, text):
    _check(tmp_path, text)


NUMBER_FIELDS = [(section, f) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)
                 if type(f.default) in (int, float)]


def _edges(field: dataclasses.Field) -> list:
    """The values a number setting allows that lie at or next to the edges of its bounds."""
    meta = field.metadata
    edges = [meta[k] for k in ("min", "max", "above") if meta.get(k) is not None] + [field.default]
    near = [e * f + d for e in edges for f in (1.0, 1 + 1e-9, 1 - 1e-9) for d in (0.0, 1e-12, -1e-12)]
    as_type = (lambda x: int(round(x))) if type(field.default) is int else float
    return sorted({as_type(x) for x in near if check_value(field, as_type(x))[1] is None})


@st.composite
def configs_near_their_bounds(draw) -> str:
    """A few number settings at once, each at an edge of what it allows."""
    chosen = draw(st.lists(st.sampled_from(NUMBER_FIELDS), min_size=1, max_size=6,
                           unique_by=lambda sf: (sf[0], sf[1].name)))
    lines = []
    for section, field in chosen:
        lines += [f"[{section}]", f"{field.name} = {toml_value(draw(st.sampled_from(_edges(field))))}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def quiet_trace(tmp_path_factory):
    return standing_trace(tmp_path_factory.mktemp("fuzz") / "s.csv", duration_s=1.5)


@settings(FUZZ, max_examples=60)
@given(text=configs_near_their_bounds())
def test_a_config_that_is_accepted_runs_the_loop_without_an_exception(tmp_path, quiet_trace, text):
    config = _check(tmp_path, text)
    event("accepted" if config is not None else "refused")
    if config is not None:
        with time_bound(CASE_BOUND_S):
            replay(quiet_trace, config)
