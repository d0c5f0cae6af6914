"""A setting declared once judges every value against its bounds, and says so in words.

The declarations are made inside each test (not at import), so a test sees what
`setting()` does when it is called, as the config schema calls it.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from monitor.safety.settings import check_value, describe_bounds, nesting, quoted, setting, shown


def declared():
    @dataclasses.dataclass(frozen=True)
    class Declared:
        speed_mps: float = setting(1.5, "how fast", min=0.5, max=4.5)
        tau_s: float = setting(0.25, "a time constant", above=0.0, max=2.0)
        count: int = setting(3, "how many", min=1, max=10)
        drive: str = setting("level", "which drive", choices=("level", "charge_pump"))
        bias_mps2: list = setting([0.0, 0.5, -0.5], "an offset per axis", min=-2.0, max=2.0)
        mount: list = setting([], "a rotation", kind="rotation")
        folder: str = setting("/var/lib/x", "where records go", kind="path", under=("/var/lib", "/home"))
        is_on: bool = setting(True, "on or off")

    return Declared


def fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(declared())}


def test_a_declaration_keeps_its_default_help_and_bounds():
    cls = declared()
    made = cls()
    assert (made.speed_mps, made.tau_s, made.count, made.drive, made.bias_mps2, made.mount, made.folder,
            made.is_on) == (1.5, 0.25, 3, "level", [0.0, 0.5, -0.5], [], "/var/lib/x", True)
    f = fields()
    assert dict(f["speed_mps"].metadata) == {"help": "how fast", "min": 0.5, "max": 4.5, "above": None,
                                             "choices": None, "kind": None, "under": None}
    assert dict(f["tau_s"].metadata)["above"] == 0.0
    assert dict(f["drive"].metadata)["choices"] == ("level", "charge_pump")
    assert dict(f["mount"].metadata)["kind"] == "rotation"
    assert dict(f["folder"].metadata)["under"] == ("/var/lib", "/home")


def test_bounds_are_described_in_words():
    f = fields()
    assert describe_bounds(f["speed_mps"]) == "at least 0.5 and at most 4.5"
    assert describe_bounds(f["tau_s"]) == "above 0 and at most 2"
    assert describe_bounds(f["count"]) == "at least 1 and at most 10"
    assert describe_bounds(f["drive"]) == 'one of "level", "charge_pump"'
    assert describe_bounds(f["bias_mps2"]) == "3 numbers, each at least -2 and at most 2"
    assert describe_bounds(f["mount"]).startswith("a 3x3 rotation matrix of finite numbers")
    assert describe_bounds(f["folder"]) == "an absolute path of a folder inside /var/lib/ or /home/"
    assert describe_bounds(f["is_on"]) == "any value of its type"


@pytest.mark.parametrize("value,error", [
    (0.5, None), (4.5, None), (0.4999999, "is 0.4999999, must be at least 0.5 and at most 4.5"),
    (4.5000001, "is 4.5000001, must be at least 0.5 and at most 4.5"),
])
def test_a_number_on_both_sides_of_its_bounds(value, error):
    assert check_value(fields()["speed_mps"], value) == (value, error)


@pytest.mark.parametrize("value,is_ok", [(0.0, False), (1e-9, True), (2.0, True), (2.0000001, False)])
def test_an_exclusive_lower_bound(value, is_ok):
    assert (check_value(fields()["tau_s"], value)[1] is None) is is_ok


def test_a_whole_number_setting():
    f = fields()["count"]
    assert check_value(f, 1) == (1, None) and check_value(f, 10) == (10, None)
    assert check_value(f, 0)[1] == "is 0, must be at least 1 and at most 10"
    assert check_value(f, 2.0)[1] == "must be a whole number, not 2.0"
    assert check_value(f, True)[1] == "must be a number, not True"


def test_a_choice_setting():
    f = fields()["drive"]
    assert check_value(f, "charge_pump") == ("charge_pump", None)
    assert check_value(f, "pump")[1] == 'is "pump", must be one of "level", "charge_pump"'


def test_a_vector_setting_checks_each_number():
    f = fields()["bias_mps2"]
    assert check_value(f, [2, -2, 0]) == ([2.0, -2.0, 0.0], None)
    assert check_value(f, [0, 0, 2.5])[1] == "is [0, 0, 2.5], must be 3 numbers, each at least -2 and at most 2"
    assert check_value(f, [0, 0])[1] == "must be a list of 3 numbers, not [0, 0]"
    assert check_value(f, [0, 0, "x"])[1] == "must be a list of 3 numbers, not [0, 0, \"x\"]"
    assert check_value(f, [0, 0, math.nan])[1].startswith("holds a number that is nan")


def test_a_boolean_setting():
    f = fields()["is_on"]
    assert check_value(f, False) == (False, None)
    assert check_value(f, 1)[1] == "must be true or false, not 1"


# -- how a value is repeated back in a message --------------------------------------------------------------

def test_a_string_of_sixty_characters_is_shown_whole_and_one_more_is_cut():
    assert quoted("a" * 58) == '"' + "a" * 58 + '"'
    assert quoted("b" * 60) == '"' + "b" * 60 + '"'
    assert quoted("c" * 61) == '"' + "c" * 57 + '..."'


def test_a_list_of_sixty_characters_is_shown_whole_and_one_more_is_cut_visibly():
    sixty, sixty_one = [1] * 20, [10] + [1] * 19  # "[1, 1, ...]": 60 characters; with a 10 first: 61
    assert len(repr(sixty)) == 60 and len(repr(sixty_one)) == 61
    assert shown(sixty) == repr(sixty)
    assert shown(sixty_one) == repr(sixty_one)[:57] + "..."  # never a list that looks whole but is not


def test_control_characters_are_escaped_and_printable_ones_kept():
    assert quoted("a\x1fb c\x7fd\x80e~") == '"a\\x1fb c\\x7fd\x80e~"'
    assert quoted("\x00") == '"\\x00"'


@pytest.mark.parametrize("digits", [4000, 4001, 4300, 4301])
def test_integers_around_the_conversion_limit_are_named_by_their_digits(digits):
    assert shown(10 ** (digits - 1)) == f"an integer of {digits} digits"
    assert shown(10 ** digits - 1) == f"an integer of {digits} digits"
    assert shown(-(10 ** digits - 1)) == f"an integer of {digits} digits"


def test_twenty_digits_are_shown_and_twenty_one_are_named():
    assert shown(10 ** 20 - 1) == "9" * 20
    assert shown(10 ** 20) == "an integer of 21 digits"


def test_tables_and_lists_are_repeated_with_their_separators():
    assert shown({"a": 1, "b": [2, 3]}) == '{"a": 1, "b": [2, 3]}'
    assert shown([1, "x", [2.5]]) == '[1, "x", [2.5]]'


def test_numbers_inside_a_list_keep_their_own_form():
    assert shown([10 ** 19, -(10 ** 19)]) == "[10000000000000000000, -10000000000000000000]"
    assert shown([10 ** 20]) == "[an integer of 21 digits]"
    assert shown([1.2345678901234567e+300, True]) == "[1.2345678901234567e+300, True]"


def test_a_list_of_exactly_sixty_characters_is_shown_whole_and_a_longer_one_cut():
    sixty = [1234567] * 6 + [1234]  # repr: 60 characters
    assert len(repr(sixty)) == 60 and shown(sixty) == repr(sixty)
    longer = list(range(100))
    assert shown(longer) == repr(longer)[:57] + "..."
    assert shown([[[1]]]) == "[[[1]]]" and shown([[[[1]]]]) == "a list nested 4 levels deep"


# -- the rotation check: is the mount a rotation? ---------------------------------------------------

ROTATION = [[0.36, 0.48, -0.8], [-0.8, 0.6, 0.0], [0.48, 0.64, 0.6]]  # nine different elements but one


def rotation_field():
    return fields()["mount"]


def test_a_rotation_with_every_element_in_play_is_accepted():
    import numpy as np

    m = np.array(ROTATION)
    assert m @ m.T == pytest.approx(np.eye(3)) and np.linalg.det(m) == pytest.approx(1.0)
    for matrix in (ROTATION, [ROTATION[1], ROTATION[2], ROTATION[0]], [list(c) for c in zip(*ROTATION)]):
        assert check_value(rotation_field(), matrix) == (matrix, None)


def test_a_mirrored_mount_is_named_a_reflection():
    for row in range(3):
        mirrored = [[-x for x in r] if i == row else list(r) for i, r in enumerate(ROTATION)]
        assert check_value(rotation_field(), mirrored)[1] == (
            "is a reflection, not a rotation (determinant -1): one axis has the wrong sign")


def test_a_matrix_that_is_not_a_rotation_says_to_calibrate():
    error = check_value(rotation_field(), [[1, 0, 0], [0, 1, 0], [0, 0.5, 1]])[1]
    assert error == ("is not a rotation (rows must be unit length and at right angles); "
                     "run `treadguard calibrate`")


@pytest.mark.parametrize("skew,is_ok", [(0.001, True), (0.0010001, False)])
def test_rows_at_right_angles_within_the_tolerance(skew, is_ok):
    assert (check_value(rotation_field(), [[1, 0, 0], [skew, 1, 0], [0, 0, 1]])[1] is None) is is_ok


@pytest.mark.parametrize("value", [[[1, 0], [0, 1], [0, 0]], [[1, 0, 0], [0, 1, 0]], [[1, 0, 0], [0, 1, 0], "abc"],
                                   [[[1]], [0, 1, 0], [0, 0, 1]]])
def test_a_mount_of_the_wrong_shape_is_named(value):
    assert check_value(rotation_field(), value)[1] == (
        f"must be a 3x3 list of numbers, e.g. [[1, 0, 0], [0, 1, 0], [0, 0, 1]], not {shown(value)}")


def test_no_mount_at_all_is_allowed():
    assert check_value(rotation_field(), []) == ([], None)


# -- a folder setting ------------------------------------------------------------------------------------

def folder_fields():
    @dataclasses.dataclass(frozen=True)
    class Folders:
        one: str = setting("/var/lib/treadguard", "one root", kind="path", under=("/var/lib/",))
        two: str = setting("/home/x", "two roots", kind="path", under=("/var/lib", "/home"))

    return {f.name: f for f in dataclasses.fields(Folders)}


def test_a_folder_inside_its_root_is_accepted_even_with_spaces_or_accents():
    one = folder_fields()["one"]
    for path in ("/var/lib/treadguard", "/var/lib/my trips", "/var/lib/caf\u00e9", "/var/lib/x\x80"):
        assert check_value(one, path) == (path, None)
    assert describe_bounds(one) == "an absolute path of a folder inside /var/lib//"


def test_a_folder_outside_its_roots_is_refused_and_its_real_place_named():
    two = folder_fields()["two"]
    assert check_value(two, "/etc")[1] == (
        'is "/etc", a system or device path; must be an absolute path of a folder inside /var/lib/ or /home/, '
        'e.g. "/home/x"')
    assert '(that is' not in check_value(two, "/etc/")[1]
    assert '(that is "/etc")' in check_value(two, "/home/../etc")[1]


def test_an_empty_or_unnameable_folder_is_refused_with_an_example():
    two = folder_fields()["two"]
    assert check_value(two, "")[1] == (
        'is empty, must be an absolute path of a folder inside /var/lib/ or /home/, e.g. "/home/x"')
    assert "which no folder can be called" in check_value(two, "/home/a\x7fb")[1]
    assert "which no folder can be called" in check_value(two, "/home/a\x1fb")[1]
    assert "a relative path" in check_value(two, "home/x")[1]


# -- a vector with one bound, a root ending in a letter, the largest integers, the deepest lists -----------

@pytest.mark.parametrize("bound,inside,outside,words", [
    ({"min": 0.0}, [0.0, 5.0], [0.0, -0.5], "at least 0"),
    ({"max": 1.0}, [1.0, -5.0], [1.5, 0.0], "at most 1"),
    ({"above": 0.0}, [0.25, 5.0], [0.25, 0.0], "above 0"),
])
def test_a_vector_with_a_single_bound_checks_each_number_against_it(bound, inside, outside, words):
    @dataclasses.dataclass(frozen=True)
    class OneBound:
        gains: list = setting([1.0, 1.0], "a gain per side", **bound)

    f = dataclasses.fields(OneBound)[0]
    assert check_value(f, inside) == (inside, None)
    assert check_value(f, outside)[1] == f"is {shown(outside)}, must be 2 numbers, each {words}"


def test_a_root_folder_ending_in_any_letter_admits_only_what_is_inside_it():
    @dataclasses.dataclass(frozen=True)
    class Roots:
        folder: str = setting("/srv/X/trips", "where records go", kind="path", under=("/srv/X",))

    f = dataclasses.fields(Roots)[0]
    assert check_value(f, "/srv/X/trips") == ("/srv/X/trips", None)
    assert "a system or device path" in check_value(f, "/srv/Y")[1]
    assert check_value(f, "/etc/X")[1].startswith('is "/etc/X", a system or device path;')  # named once, as given


@pytest.mark.parametrize("value,is_number", [(2 ** 1023, True), (2 ** 1023 + 1, False), (2 ** 1024, False)])
def test_an_integer_up_to_two_to_the_1023_is_a_number_and_a_larger_one_is_named_too_large(value, is_number):
    @dataclasses.dataclass(frozen=True)
    class Unbounded:
        rate_hz: float = setting(1.0, "a number with no bounds")

    checked, error = check_value(dataclasses.fields(Unbounded)[0], value)
    if is_number:
        assert error is None and checked == float(value)
    else:
        assert error == f"is {shown(value)}, too large for a number; must be a finite number"


def test_the_depth_of_a_list_is_measured_to_1001_levels_and_no_further():
    """Deep enough to refuse any list a setting could hold (at most 3 levels); a hostile file's
    list a hundred thousand levels deep costs no more to refuse."""
    value: list = []
    for _ in range(1500):
        value = [value]
    assert nesting(value) == 1001 and shown(value) == "a list nested 1001 levels deep"
    for depth in (1000, 1001):
        exact: list = [1]
        for _ in range(depth - 1):
            exact = [exact]
        assert nesting(exact) == depth


@pytest.mark.parametrize("length,is_ok", [(4095, True), (4096, False)])
def test_a_folder_path_of_4095_characters_is_accepted_and_one_more_is_refused(length, is_ok):
    """Linux refuses a path of 4096 characters (PATH_MAX counts the terminating NUL): "File name too long"."""
    one = folder_fields()["one"]
    path = "/var/lib"
    while len(path) + 201 < length:
        path += "/" + "a" * 200
    path += "/" + "b" * (length - len(path) - 1)
    assert len(path) == length
    value, error = check_value(one, path)
    assert (error is None) is is_ok
    if not is_ok:
        assert "which no folder can be called (control characters or too long)" in error
