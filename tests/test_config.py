"""Configuration: checked completely at start, every problem named with what is allowed."""

import dataclasses
import math

import pytest

from monitor.cli.main import main
from monitor.config.docs import EXAMPLE_PATH, REFERENCE_PATH, render_example, render_reference
from monitor.config.load import ConfigError, load_config, parse_config
from monitor.config.schema import SECTIONS, Config
from monitor.service.sessions.replay import replay
from tests.support import standing_trace


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
    assert "loop.late_s (0.1) must be more than twice the loop period 1 / loop.rate_hz (2 x 0.05 s = 0.1 s)" in text
    assert "imu.timeout_s (0.05) must be more than the loop period 1 / loop.rate_hz (0.05 s)" in text
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


# --- what no config may get past: numbers, nesting, rules between settings, paths ---------

def _problems(data):
    try:
        parse_config(data)
    except ConfigError as err:
        return err.problems
    return []


def _load_text(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


@pytest.mark.parametrize("section,key,allowed", [
    ("loop", "rate_hz", "at least 20 and at most 1000"),  # a float setting: float() would overflow
    ("imu", "i2c_bus", "at least 0 and at most 31"),  # an int setting
])
def test_a_400_digit_integer_is_named_by_its_key_and_digits(tmp_path, section, key, allowed):
    [problem] = _load_text(tmp_path, f"[{section}]\n{key} = {'9' * 400}\n")
    assert problem.startswith(f"{section}.{key} is an integer of 400 digits") and allowed in problem


def test_a_5001_digit_integer_is_named_by_its_line_key_and_digits(tmp_path):
    # tomllib itself refuses it (Python's int-to-str limit), before any key is known
    [problem] = _load_text(tmp_path, "[loop]\nrate_hz = 100\n[imu]\ni2c_bus = " + "7" * 5001 + "\n")
    assert "line 4 (imu.i2c_bus) is an integer of 5001 digits" in problem
    assert "at least 0 and at most 31" in problem and len(problem) < 200


def test_arrays_nested_past_the_parser_are_named_by_line_and_key(tmp_path):
    [problem] = _load_text(tmp_path, "[imu]\nmount = " + "[" * 5000 + "]" * 5000 + "\n")
    assert "line 2 (imu.mount) nests arrays or tables too deeply" in problem


def test_arrays_nested_deeper_than_any_setting_are_refused_with_the_depth():
    [problem] = _problems({"imu": {"mount": [[[[[1.0]]]]]}})
    assert problem.startswith("imu.mount is a list nested 5 levels deep (at most 3)")


@pytest.mark.parametrize("section,key,value", [
    ("imu", "mount", [[math.nan, 0, 0], [0, 1, 0], [0, 0, 1]]),
    ("imu", "mount", [[1, 0, 0], [0, math.inf, 0], [0, 0, 1]]),
    ("imu", "accel_bias_mps2", [0.0, -math.inf, 0.0]),
    ("loop", "rate_hz", math.nan),
    ("loop", "rate_hz", math.inf),
    ("motion", "max_dt_s", -math.inf),
    ("belt", "pulses_per_m", math.nan),
])
def test_a_number_that_is_not_finite_is_refused_anywhere(section, key, value):
    [problem] = _problems({section: {key: value}})
    assert problem.startswith(f"{section}.{key}") and "must be finite" in problem


def test_every_number_setting_refuses_nan_by_its_declaration_alone():
    for section, cls in SECTIONS.items():
        for field in dataclasses.fields(cls):
            if type(field.default) is float:
                assert _own_errors({section: {field.name: math.nan}}, section, field.name), field.name


@pytest.mark.parametrize("key", ["rate_filter_tau_s", "startup_prior_s", "jolt_filter_tau_s"])
def test_a_motion_time_constant_of_zero_is_refused_and_just_above_is_taken(key):
    # zero divides by zero in the detector at its first sample (or a repeated time stamp)
    assert "must be above 0" in _problems({"motion": {key: 0.0}})[0]
    assert _problems({"motion": {key: 1e-6}}) == []


def test_a_config_at_the_smallest_motion_time_constants_runs_the_loop_without_crashing(tmp_path):
    config = parse_config({"motion": {"rate_filter_tau_s": 1e-6, "startup_prior_s": 1e-6,
                                      "jolt_filter_tau_s": 1e-6}})
    trace = standing_trace(tmp_path / "s.csv", duration_s=2.0)
    assert replay(trace, config).samples == trace.samples


@pytest.mark.parametrize("rate_hz,value,is_ok", [
    (200.0, 0.01, True), (200.0, 0.0099, False),  # twice the 5 ms sample period
    (50.0, 0.04, True), (50.0, 0.039, False),
])
def test_motion_max_dt_must_cover_two_imu_sample_periods(rate_hz, value, is_ok):
    problems = _problems({"imu": {"sample_rate_hz": rate_hz, "lowpass_hz": 20.0},
                          "motion": {"max_dt_s": value}})
    assert (problems == []) == is_ok
    if not is_ok:
        assert problems[0].startswith(f"motion.max_dt_s ({value:g}) must be at least twice the IMU sample "
                                      "period 1 / imu.sample_rate_hz")
        assert "nothing is ever detected" in problems[0]


@pytest.mark.parametrize("rate_hz,value,is_ok", [(50.0, 0.04, True), (50.0, 0.0399, False)])
def test_imu_timeout_must_cover_two_imu_sample_periods(rate_hz, value, is_ok):
    problems = _problems({"imu": {"sample_rate_hz": rate_hz, "lowpass_hz": 20.0, "timeout_s": value}})
    assert (problems == []) == is_ok
    if not is_ok:
        assert problems[0].startswith(f"imu.timeout_s ({value:g}) must be at least twice the IMU sample period")
        assert "cannot stay armed" in problems[0]


@pytest.mark.parametrize("backward,forward,is_ok", [(2.0, 2.0, True), (2.01, 2.0, False)])
def test_the_backward_speed_limit_may_not_pass_the_forward_one(backward, forward, is_ok):
    problems = _problems({"belt": {"max_backward_mps": backward, "max_forward_mps": forward}})
    assert (problems == []) == is_ok
    if not is_ok:
        assert problems[0].startswith("belt.max_backward_mps (2.01) must be at most belt.max_forward_mps (2)")


def test_the_backward_limit_rule_is_off_without_a_belt_sensor():
    assert _problems({"belt": {"enabled": False, "max_backward_mps": 3.0, "max_forward_mps": 2.0}}) == []


@pytest.mark.parametrize("pulses_per_m,stopped_s,is_ok", [
    (6.4, 1.0, True),  # the default: 0.156 m/s
    (4.0, 0.84, True),  # 0.2976 m/s, just below drift.min_belt_mps = 0.3
    (4.0, 0.8333, False),  # 0.30001 m/s
    (1.0, 1.0, False),  # 1 m/s: every walking speed reads 0
])
def test_the_slowest_measurable_belt_speed_must_be_below_the_drift_threshold(pulses_per_m, stopped_s, is_ok):
    problems = _problems({"belt": {"pulses_per_m": pulses_per_m, "stopped_s": stopped_s}})
    assert (problems == []) == is_ok
    if not is_ok:
        assert problems[0].startswith("the slowest belt speed the pulse sensor can measure, "
                                      "1 / (belt.pulses_per_m * belt.stopped_s) (")
        assert "must be less than drift.min_belt_mps (0.3)" in problems[0] and "drift check is blind" in problems[0]


def test_the_slowest_belt_speed_rule_is_off_when_drift_is_off():
    assert _problems({"belt": {"pulses_per_m": 1.0, "stopped_s": 1.0}, "drift": {"enabled": False}}) == []


@pytest.mark.parametrize("trip_dir,words", [
    ("", "is empty"),
    ("trips", "a relative path"),
    ("/proc/treadguard", "a system or device path"),
    ("/sys/trips", "a system or device path"),
    ("/dev/null", "a system or device path"),
    ("/dev/shm/trips", "a system or device path"),
    ("/", "a system or device path"),
    ("/etc", "a system or device path"),
    ("/usr/lib/treadguard", "a system or device path"),
    ("/bin", "a system or device path"),
    ("/boot/trips", "a system or device path"),
    ("/var/lib", "a system or device path"),  # the folder itself, not one inside it
    ("/var/lib/../../etc/trips", '(that is "/etc/trips")'),
    ("/tmp/a\nb", "control characters"),
])
def test_a_trip_folder_outside_the_allowed_places_is_refused(trip_dir, words):
    [problem] = _problems({"record": {"trip_dir": trip_dir}})
    assert problem.startswith("record.trip_dir") and words in problem
    assert "/var/lib/, /home/, /srv/ or /tmp/" in problem and "\n" not in problem


@pytest.mark.parametrize("trip_dir", ["/var/lib/treadguard/trips", "/home/pi/trips", "/srv/treadguard",
                                      "/tmp/treadguard-trips", "/var/lib/treadguard/../tg/"])
def test_a_trip_folder_in_an_allowed_place_is_taken(trip_dir):
    assert parse_config({"record": {"trip_dir": trip_dir}}).record.trip_dir == trip_dir


def test_unknown_keys_and_sections_are_shown_short_and_on_one_line():
    problems = _problems({"imu": {"\u00e9\n" + "x" * 500: 1}, "y" * 500: {}})
    assert len(problems) == 2
    # the key is shown short (the list of what is allowed is as long as the section)
    assert all("\n" not in p and len(p.split(": unknown")[0]) < 80 for p in problems)


def test_a_misspelt_key_is_answered_with_the_key_meant():
    problems = _problems({"imu": {"sample_rate": 200}})
    assert "imu.sample_rate: unknown setting; did you mean sample_rate_hz?" in problems[0]


def test_the_rules_between_settings_are_in_the_reference():
    reference = render_reference()
    assert "## Rules between settings" in reference
    assert "motion.max_dt_s must be at least twice the IMU sample period 1 / imu.sample_rate_hz" in reference
    assert "| at least 0.005 and at most 0.5; at least twice the IMU sample period" in reference


# -- drift settings that together would blind or delay the stopped-stepping check ---------------------

def drift_problems(**drift) -> list[str]:
    return [p for p in _problems({"drift": drift}) if p.startswith("drift.") or "drift." in p.split(" ")[0]]


@pytest.mark.parametrize("low_s,high_s,is_ok", [(0.9, 0.9, True), (0.9 + 1e-9, 0.9, False)])
def test_the_no_step_limits_must_not_cross(low_s, high_s, is_ok):
    problems = drift_problems(min_no_step_s=low_s, max_no_step_s=high_s)
    assert (problems == []) is is_ok, problems
    assert is_ok or problems[0].startswith("drift.min_no_step_s") and "at most drift.max_no_step_s" in problems[0]


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
    assert "drift.step_accel_mps2" in problems[0] and "unknown setting" in problems[0]


@pytest.mark.parametrize("mount", ["false", "1.5", '"upright"'])
def test_a_mount_that_is_not_a_list_is_named_as_wrong_not_a_crash(tmp_path, mount):
    path = tmp_path / "config.toml"
    path.write_text(f"[imu]\nmount = {mount}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert any("imu.mount" in p and "3x3" in p for p in err.value.problems), err.value.problems
    assert not any("could not be checked" in p for p in err.value.problems)
