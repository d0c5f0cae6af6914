"""How one declared setting judges a value: the rules every config key gets."""

from __future__ import annotations

import dataclasses

import pytest

from monitor.config.load import parse_config
from monitor.safety.settings import check_value, setting


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
