"""Belt overspeed when its limit changes under a running belt: the walker turns to face the
rear and the lower backward limit applies from that moment, counted from the change, not
from a reading that has not come yet; and a limit lowered before any reading judges no belt.
"""

from __future__ import annotations

from monitor.safety.overspeed import OverspeedCheck
from monitor.safety.verdict import Problem


def problems_at(check: OverspeedCheck, now_s: float) -> list[Problem]:
    found: list[Problem] = []
    check.check(now_s, found)
    return found


def test_a_lower_limit_counts_the_time_over_it_from_the_change_without_a_new_reading():
    check = OverspeedCheck(max_speed_mps=4.5, confirm_s=0.25)
    check.update(1.0, 2.0)
    assert problems_at(check, 1.5) == []
    check.set_limit(1.5, 1.8)  # the walker now faces the rear; the belt still reads 2.0
    assert problems_at(check, 1.5 + 0.1875) == []
    assert problems_at(check, 1.75) == [Problem("overspeed", "belt_overspeed", 1.75, {
        "belt_mps": 2.0, "max_speed_mps": 1.8, "over_for_s": 0.25})]


def test_a_limit_lowered_before_any_belt_reading_sees_a_belt_at_rest():
    check = OverspeedCheck(max_speed_mps=4.5, confirm_s=0.25)
    check.set_limit(0.0, 0.5)
    assert problems_at(check, 1.0) == []
    check.update(1.0, 0.5)  # exactly at the limit is not over it
    assert problems_at(check, 2.0) == []
    check.update(2.0, 0.5625)
    assert problems_at(check, 2.25)[0].values["over_for_s"] == 0.25
