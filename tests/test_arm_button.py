"""The arm button's state machine: a hold of 1 s asks to arm once per press; a button
pressed at start or held past 10 s is stuck and asks nothing until released."""

from __future__ import annotations

import pytest

from monitor.safety.arm_button import Button, ButtonEvent, ButtonState, step

HOLD_S, STUCK_S, TICK_S = 1.0, 10.0, 0.01


def play(levels: list[tuple[float, bool]], *, until_s: float, start: Button = Button()) -> list:
    """Feed the button's level (changes at the given times) every 10 ms; (t_s, event) for each event."""
    button, events, k, level = start, [], 0, False
    changes = sorted(levels)
    while k * TICK_S <= until_s + 1e-9:
        now_s = round(k * TICK_S, 9)
        while changes and changes[0][0] <= now_s + 1e-9:
            level = changes.pop(0)[1]
        button, event = step(button, level, now_s, hold_s=HOLD_S, stuck_s=STUCK_S)
        if event is not None:
            events.append((now_s, event))
        k += 1
    play.last = button
    return events


def test_a_hold_of_one_second_asks_to_arm_once():
    events = play([(2.0, True), (5.0, False)], until_s=6.0)
    assert events == [(3.0, ButtonEvent.ARM)]  # once, at the second, however long it is held after
    assert play.last.state is ButtonState.RELEASED


@pytest.mark.parametrize("held_s,asks", [(0.99, False), (1.0, True)])
def test_the_hold_boundary(held_s, asks):
    events = play([(2.0, True), (2.0 + held_s + TICK_S / 2, False)], until_s=4.0)
    assert (ButtonEvent.ARM in [e for _, e in events]) is asks
    assert (ButtonEvent.TOO_SHORT in [e for _, e in events]) is not asks


def test_a_button_pressed_at_start_is_stuck_and_asks_nothing_until_released():
    events = play([(0.0, True), (20.0, False), (21.0, True), (22.5, False)], until_s=23.0)
    assert events == [(0.0, ButtonEvent.STUCK), (20.0, ButtonEvent.FREED), (22.0, ButtonEvent.ARM)]


@pytest.mark.parametrize("held_s,stuck", [(10.0, False), (10.02, True)])
def test_a_button_held_past_ten_seconds_is_stuck(held_s, stuck):
    events = play([(1.0, True), (1.0 + held_s + TICK_S / 2, False)], until_s=15.0)
    kinds = [e for _, e in events]
    assert kinds[0] is ButtonEvent.ARM  # it asked once, at the first second
    assert (ButtonEvent.STUCK in kinds) is stuck
    assert (ButtonEvent.FREED in kinds) is stuck and kinds.count(ButtonEvent.ARM) == 1


def test_a_stuck_button_needs_a_new_press_after_release():
    start = Button(ButtonState.STUCK, 0.0)
    button, event = step(start, True, 100.0, hold_s=HOLD_S, stuck_s=STUCK_S)
    assert button is start and event is None  # still stuck, however long
    button, event = step(button, False, 101.0, hold_s=HOLD_S, stuck_s=STUCK_S)
    assert button.state is ButtonState.RELEASED and event is ButtonEvent.FREED
    button, event = step(button, False, 105.0, hold_s=HOLD_S, stuck_s=STUCK_S)
    assert button.state is ButtonState.RELEASED and event is None


def test_released_at_start_and_never_pressed_asks_nothing():
    assert play([], until_s=30.0) == []


def test_a_hold_arms_at_the_first_look_past_the_second_when_no_look_lands_on_it():
    """The loop looks at the button when it can (here every 30 ms from 7 ms): a person holding it
    1.5 s is asked to arm at the first look after 1 s, not only at a look exactly 1 s in."""
    button, events = Button(), []
    for k in range(100):
        now_s = 0.007 + 0.03 * k
        button, event = step(button, 0.1 <= now_s < 1.6, now_s, hold_s=HOLD_S, stuck_s=STUCK_S)
        if event is not None:
            events.append((round(now_s, 3), event))
    pressed_s = 0.127  # the first look at the pressed button
    assert events == [(round(pressed_s + 1.02, 3), ButtonEvent.ARM)]  # looks 0.99 s and 1.02 s after the press
