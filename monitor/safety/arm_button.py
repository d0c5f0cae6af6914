"""The arm button's logic: a hold of `hold_s` asks to arm, once per press; a stuck button never does.

One Enum and one transition function, fed the button's level and the time at
every loop tick. The button only *asks*: the core judges the request at its next
tick, and the latch refuses it while any check fails. What this machine adds is
that nothing but a deliberate press by a person can ask:

- a request needs a press that starts after the button was seen released, held
  for hold_s; releasing sooner asks nothing;
- one press asks once, however long it is held;
- a button pressed when the monitor starts, or held longer than stuck_s, is
  STUCK: it asks nothing until it has been seen released, and then needs a new
  press. A stuck button (a shorted wire, a jammed cap, something leaning on the
  console) would otherwise arm the belt the moment the checks pass with no
  person there. It is not a trip: the relay never depends on the button, so a
  stuck button cannot keep the belt running, and stopping a belt under a walker
  who leans on the console is a hazard of its own. It is shown (the fault
  light, the refusal sound, the status) until released.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ButtonState(enum.Enum):
    STARTING = "starting"  # not yet read: a press now counts as stuck
    RELEASED = "released"  # up: a press starts a hold
    HOLDING = "holding"  # pressed since `since_s`, not yet hold_s
    HELD = "held"  # held hold_s: the request was made; waiting for the release
    STUCK = "stuck"  # pressed at start or held past stuck_s: asks nothing until released


class ButtonEvent(enum.Enum):
    ARM = "arm"  # a person held the button for hold_s: ask the core to arm
    TOO_SHORT = "too_short"  # released before hold_s: nothing asked
    STUCK = "stuck"  # pressed at start, or held past stuck_s
    FREED = "freed"  # a stuck button was released


@dataclass(frozen=True)
class Button:
    state: ButtonState = ButtonState.STARTING
    since_s: float = 0.0  # when the button entered this state


def step(button: Button, is_pressed: bool, now_s: float, *, hold_s: float,
         stuck_s: float) -> tuple[Button, ButtonEvent | None]:
    """The one transition function: the button's level at now_s moves the machine."""
    state = button.state
    held_s = now_s - button.since_s
    if state is ButtonState.STARTING:
        if is_pressed:
            return Button(ButtonState.STUCK, now_s), ButtonEvent.STUCK
        return Button(ButtonState.RELEASED, now_s), None
    if state is ButtonState.RELEASED:
        return (Button(ButtonState.HOLDING, now_s), None) if is_pressed else (button, None)
    if state is ButtonState.STUCK:
        return (Button(ButtonState.RELEASED, now_s), ButtonEvent.FREED) if not is_pressed else (button, None)
    if not is_pressed:  # HOLDING or HELD, released
        return Button(ButtonState.RELEASED, now_s), ButtonEvent.TOO_SHORT if state is ButtonState.HOLDING else None
    if state is ButtonState.HOLDING:
        if held_s >= hold_s:
            return Button(ButtonState.HELD, button.since_s), ButtonEvent.ARM  # since_s: the press began
        return button, None
    if held_s > stuck_s:  # HELD, still pressed
        return Button(ButtonState.STUCK, now_s), ButtonEvent.STUCK
    return button, None
