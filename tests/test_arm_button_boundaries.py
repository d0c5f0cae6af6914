"""The arm button's transition function, every state and level, exactly: the state it moves to,
since when, and what it asks; and both sides of the hold and stuck times."""

from __future__ import annotations

import pytest

from monitor.safety.arm_button import Button, ButtonEvent, ButtonState, step

HOLD_S, STUCK_S = 1.0, 10.0
S = ButtonState


def at(button: Button, is_pressed: bool, now_s: float):
    return step(button, is_pressed, now_s, hold_s=HOLD_S, stuck_s=STUCK_S)


@pytest.mark.parametrize("button,is_pressed,now_s,expected", [
    (Button(), True, 3.0, (Button(S.STUCK, 3.0), ButtonEvent.STUCK)),
    (Button(), False, 3.0, (Button(S.RELEASED, 3.0), None)),
    (Button(S.RELEASED, 1.0), True, 3.0, (Button(S.HOLDING, 3.0), None)),
    (Button(S.RELEASED, 1.0), False, 3.0, (Button(S.RELEASED, 1.0), None)),
    (Button(S.STUCK, 1.0), False, 3.0, (Button(S.RELEASED, 3.0), ButtonEvent.FREED)),
    (Button(S.STUCK, 1.0), True, 3.0, (Button(S.STUCK, 1.0), None)),
    (Button(S.HOLDING, 2.5), False, 3.0, (Button(S.RELEASED, 3.0), ButtonEvent.TOO_SHORT)),
    (Button(S.HOLDING, 2.5), True, 3.0, (Button(S.HOLDING, 2.5), None)),
    (Button(S.HOLDING, 2.0), True, 3.0, (Button(S.HELD, 2.0), ButtonEvent.ARM)),
    (Button(S.HELD, 2.0), False, 3.0, (Button(S.RELEASED, 3.0), None)),
    (Button(S.HELD, 2.0), True, 3.0, (Button(S.HELD, 2.0), None)),
    (Button(S.HELD, 2.0), True, 12.0, (Button(S.HELD, 2.0), None)),
    (Button(S.HELD, 2.0), True, 12.5, (Button(S.STUCK, 12.5), ButtonEvent.STUCK)),
])
def test_every_transition_exactly(button, is_pressed, now_s, expected):
    assert at(button, is_pressed, now_s) == expected


@pytest.mark.parametrize("held_s,event", [(HOLD_S - 1e-9, None), (HOLD_S, ButtonEvent.ARM)])
def test_the_hold_on_both_sides(held_s, event):
    assert at(Button(S.HOLDING, 5.0), True, 5.0 + held_s)[1] is event


@pytest.mark.parametrize("held_s,event", [(STUCK_S, None), (STUCK_S + 1e-9, ButtonEvent.STUCK)])
def test_the_stuck_time_on_both_sides(held_s, event):
    assert at(Button(S.HELD, 5.0), True, 5.0 + held_s)[1] is event
