"""Configuration: checked completely at start, every problem named with what is allowed."""

import dataclasses
import math

import pytest

from monitor.cli.main import main
from monitor.config.docs import EXAMPLE_PATH, REFERENCE_PATH, render_example, render_reference
from monitor.config.load import ConfigError, load_config, parse_config
from monitor.config.schema import SECTIONS, Config


def _bounded_fields():
    for section, cls in SECTIONS.items():
        for field in dataclasses.fields(cls):
            meta = field.metadata
            for kind in ("min", "max", "above"):
                if meta.get(kind) is not None:
                    yield pytest.param(section, field, kind, id=f"{section}.{field.name}.{kind}")


def _own_errors(data, section, key):
    try:
        parse_config(data)
    except ConfigError as err:
        return [p for p in err.problems if p.startswith((f"{section}.{key} is", f"{section}.{key} must"))]
    return []


@pytest.mark.parametrize("section,field,kind", list(_bounded_fields()))
def test_every_bound_accepts_its_edge_and_rejects_beyond(section, field, kind):
    bound = field.metadata[kind]
    step = 1 if isinstance(field.default, int) else max(abs(bound) * 1e-6, 1e-9)
    if kind == "above":
        inside, outside = bound + step, bound
    elif kind == "min":
        inside, outside = bound, bound - step
    else:
        inside, outside = bound, bound + step
    if field.default is dataclasses.MISSING and isinstance(field.default_factory(), list):
        n = len(field.default_factory())  # a vector setting: each of its numbers has the bounds
        inside, outside = [inside] * n, [inside] * (n - 1) + [outside]
    assert _own_errors({section: {field.name: inside}}, section, field.name) == []
    errors = _own_errors({section: {field.name: outside}}, section, field.name)
    assert len(errors) == 1 and "must be" in errors[0]


def test_defaults_are_valid_and_an_empty_file_means_defaults():
    assert parse_config({}) == Config()


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[loop]\nrate_hz = 5000\nspeed = 3\n[belt]\nmax_forward_mps = "fast"\n[beltt]\n'
                    '[session]\nwalking = "sideways"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "loop.rate_hz is 5000" in text and "at most 1000" in text
    assert "loop.speed: unknown setting" in text and "rate_hz" in text
    assert "belt.max_forward_mps must be a number" in text
    assert "[beltt]: unknown section" in text
    assert 'session.walking is "sideways"' in text and '"backward"' in text
    assert len(caught.value.problems) == 5


@pytest.mark.parametrize("value,message", [
    (True, "must be a number"), ("1", "must be a number"), (math.nan, "must be"),
])
def test_wrong_types_are_named(value, message):
    assert message in _own_errors({"imu": {"timeout_s": value}}, "imu", "timeout_s")[0]


def test_a_whole_number_setting_refuses_a_fraction():
    assert "whole number" in _own_errors({"imu": {"failed_reads_max": 2.5}}, "imu", "failed_reads_max")[0]


def test_a_switch_refuses_a_string():
    assert "true or false" in _own_errors({"belt": {"enabled": "yes"}}, "belt", "enabled")[0]


def test_a_section_must_be_a_table():
    with pytest.raises(ConfigError, match=r"\[loop\] must be a table"):
        parse_config({"loop": 3})


@pytest.mark.parametrize("mount,message", [
    ([[1, 0, 0], [0, 1, 0]], "3x3"),
    ([[1, 0, 0], [0, 1, 0], [0, 0, "x"]], "3x3"),
    ([[1, 0, 0], [0, 2, 0], [0, 0, 1]], "not a rotation"),
    ([[1, 0, 0], [0, 1, 0], [0, 0, -1]], "reflection"),
])
def test_a_mount_must_be_a_rotation(mount, message):
    assert message in _own_errors({"imu": {"mount": mount}}, "imu", "mount")[0]


def test_a_mount_that_is_a_rotation_is_kept():
    config = parse_config({"imu": {"mount": [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]}})
    assert config.imu.mount == [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]


def test_settings_that_contradict_each_other_are_refused():
    with pytest.raises(ConfigError) as caught:
        parse_config({"loop": {"rate_hz": 20.0, "late_s": 0.1},
                      "imu": {"timeout_s": 0.05},
                      "range": {"enabled": True, "rear_edge_m": 1.0, "min_rear_margin_m": 1.0}})
    text = str(caught.value)
    assert "loop.late_s (0.1) must be more than two loop periods" in text
    assert "imu.timeout_s (0.05) must be more than one loop period" in text
    assert "range.min_rear_margin_m (1) must be less than range.rear_edge_m (1)" in text


def test_a_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="config --example"):
        load_config(tmp_path / "nope.toml")


def test_broken_toml_is_named(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[loop\nrate_hz = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_the_example_and_the_reference_are_up_to_date():
    assert EXAMPLE_PATH.read_text(encoding="utf-8") == render_example(), "run python -m monitor.config.docs"
    assert REFERENCE_PATH.read_text(encoding="utf-8") == render_reference(), "run python -m monitor.config.docs"


def test_the_example_config_passes_its_own_check(capsys):
    assert main(["config", "--check", str(EXAMPLE_PATH)]) == 0
    assert "OK" in capsys.readouterr().out
    assert load_config(EXAMPLE_PATH) == Config()


def test_config_check_lists_every_problem_and_fails(tmp_path, capsys):
    path = tmp_path / "typo.toml"
    path.write_text("[imu]\ntimout_s = 0.1\n[belt]\nmax_forward_mps = -1\n")
    assert main(["config", "--check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "imu.timout_s: unknown setting" in err
    assert "belt.max_forward_mps is -1.0, must be above 0" in err
    assert "2 problem(s)" in err and "Traceback" not in err


def test_config_example_prints_the_example(capsys):
    assert main(["config", "--example"]) == 0
    assert capsys.readouterr().out == EXAMPLE_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize("value", [0.1, [0.1, 0.2], [0.1, 0.2, "x"], [0.1, 0.2, math.nan], [True, 0.0, 0.0]])
def test_a_vector_setting_needs_three_numbers_within_bounds(value):
    with pytest.raises(ConfigError, match="imu.gyro_bias_radps"):
        parse_config({"imu": {"gyro_bias_radps": value}})


# -- drift settings that together would blind or delay the stopped-stepping check ---------------------

def drift_problems(**drift) -> list[str]:
    try:
        parse_config({"drift": drift})
    except ConfigError as err:
        return [p for p in err.problems if p.startswith("drift.")]
    return []


@pytest.mark.parametrize("low_s,high_s,is_ok", [(0.9, 0.9, True), (0.9 + 1e-9, 0.9, False)])
def test_the_no_step_limits_must_not_cross(low_s, high_s, is_ok):
    problems = drift_problems(min_no_step_s=low_s, max_no_step_s=high_s)
    assert (problems == []) is is_ok, problems
    assert is_ok or "drift.min_no_step_s" in problems[0] and "at most drift.max_no_step_s" in problems[0]


@pytest.mark.parametrize("tau_s,is_ok", [(0.9, True), (0.9 - 1e-9, False)])
def test_the_step_size_must_outlast_the_no_step_limit(tau_s, is_ok):
    problems = drift_problems(step_level_tau_s=tau_s)
    assert (problems == []) is is_ok, problems
    assert is_ok or "noise of standing" in problems[0]


@pytest.mark.parametrize("high_hz,is_ok", [(2.0, True), (2.0 - 1e-9, False)])
def test_the_step_band_must_pass_a_gait(high_hz, is_ok):
    problems = drift_problems(step_band_low_hz=1.0, step_band_high_hz=high_hz)
    assert (problems == []) is is_ok, problems


@pytest.mark.parametrize("carry_m,is_ok", [(0.25, True), (0.25 + 1e-9, False)])
def test_the_carry_distance_must_not_hold_a_stop_past_the_no_step_limit(carry_m, is_ok):
    problems = drift_problems(max_carry_m=carry_m, min_belt_mps=0.25, max_no_step_s=1.0)
    assert (problems == []) is is_ok, problems
    assert is_ok or "decided later than drift.max_no_step_s" in problems[0]


def test_the_old_fixed_step_threshold_is_an_unknown_setting_that_names_the_new_ones():
    problems = drift_problems(step_accel_mps2=1.5)
    assert "drift.step_accel_mps2: unknown setting" in problems[0] and "step_floor_mps2" in problems[0]
