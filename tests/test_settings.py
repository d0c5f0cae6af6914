"""How one declared setting judges a value: the rules every config key gets."""

from __future__ import annotations

import dataclasses

import pytest

from monitor.config.load import parse_config
from monitor.safety.settings import check_value, describe_bounds, nesting, normalized_path, setting, shown


@dataclasses.dataclass(frozen=True)
class Example:
    name: str = setting("a", "a free string")
    corners: list = setting([], "a list with no bounds: its shape is checked where it is read")


FIELDS = {f.name: f for f in dataclasses.fields(Example)}


def test_a_string_setting_refuses_a_number_and_names_what_it_got():
    value, error = check_value(FIELDS["name"], 3)
    assert error == "must be a string, not 3"


def test_a_string_setting_without_choices_takes_any_string():
    assert check_value(FIELDS["name"], "anything") == ("anything", None)


def test_a_list_setting_without_bounds_is_passed_on_for_its_reader_to_check():
    assert check_value(FIELDS["corners"], [[1, 2]]) == ([[1, 2]], None)


def test_a_config_string_given_as_a_number_is_reported_with_its_key():
    with pytest.raises(Exception) as err:
        parse_config({"record": {"trip_dir": 5}})
    assert "record.trip_dir must be a string, not 5" in str(err.value)


@dataclasses.dataclass(frozen=True)
class Shapes:
    table: dict = setting({}, "a table: passed on as it is")
    rate_hz: float = setting(1.0, "a number with no bounds")


SHAPES = {f.name: f for f in dataclasses.fields(Shapes)}


@pytest.mark.parametrize("digits", [21, 400, 4300, 5001, 20000])
def test_a_huge_integer_is_shown_by_its_number_of_digits(digits):
    assert shown(10 ** digits - 1) == f"an integer of {digits} digits"
    assert shown(10 ** (digits - 1)) == f"an integer of {digits} digits"  # a power of ten, exactly


def test_a_small_integer_is_shown_as_it_is():
    assert shown(-12345678901234567890) == "-12345678901234567890"


def test_long_lists_tables_and_strings_are_cut_to_one_short_line():
    for value in (list(range(10_000)), {str(i): i for i in range(10_000)}, "x\n" * 10_000,
                  [int("9" * 500)] * 3):
        text = shown(value)
        assert len(text) <= 60 and "\n" not in text
    assert shown([int("9" * 500)]) == "[an integer of 500 digits]"
    assert shown({"a": [1, 2]}) == '{"a": [1, 2]}'


def test_nesting_of_any_depth_is_measured_without_recursion():
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert nesting(value) > 1000 and shown(value).startswith("a list nested")
    assert nesting({"a": [[1]]}) == 3 and nesting(3) == 0


def test_a_number_setting_without_bounds_still_must_be_finite():
    assert describe_bounds(SHAPES["rate_hz"]) == "a finite number"
    assert "must be finite" in check_value(SHAPES["rate_hz"], float("inf"))[1]
    assert check_value(SHAPES["rate_hz"], 2) == (2.0, None)


def test_a_setting_of_another_type_is_passed_on_for_its_reader_to_check():
    assert check_value(SHAPES["table"], {"x": 1}) == ({"x": 1}, None)


def test_a_path_is_normalized_as_text():
    assert normalized_path("/var//lib/./a/../b/") == "/var/lib/b"
    assert normalized_path("/../..") == "/"
