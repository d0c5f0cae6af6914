"""The trip latch: the only thing that decides whether the relay may be energized.

Three states and one transition function. The latch starts UNARMED with the
relay released; it arms only on an explicit reset in a tick where every check
passes; any fault while armed trips it; a trip holds until a person resets while
every check passes. A reset refused because of a fault also latches as a trip,
so the person sees why the belt may not run. Nothing re-arms by itself.
"""

from __future__ import annotations

import enum


class LatchState(enum.Enum):
    UNARMED = "unarmed"  # just started: relay released, waiting for a reset
    ARMED = "armed"  # every check passed at a reset and has passed since: relay energized
    TRIPPED = "tripped"  # a fault was seen: relay released until a reset while all clear


class LatchEvent(enum.Enum):
    """What one tick of the loop tells the latch."""

    ALL_CLEAR = "all_clear"  # every check passed, no reset asked
    FAULT = "fault"  # at least one check failed, no reset asked
    RESET_ALL_CLEAR = "reset_all_clear"  # a person asked to reset and every check passed
    RESET_FAULT = "reset_fault"  # a person asked to reset but a check failed


def event_for(*, is_fault: bool, is_reset: bool) -> LatchEvent:
    """The event for a tick with or without a fault and a reset request."""
    if is_reset:
        return LatchEvent.RESET_FAULT if is_fault else LatchEvent.RESET_ALL_CLEAR
    return LatchEvent.FAULT if is_fault else LatchEvent.ALL_CLEAR


def next_state(state: LatchState, event: LatchEvent) -> LatchState:
    """The one transition function of the latch."""
    if event is LatchEvent.RESET_ALL_CLEAR:
        return LatchState.ARMED
    if event is LatchEvent.RESET_FAULT:
        return LatchState.TRIPPED
    if event is LatchEvent.FAULT and state is LatchState.ARMED:
        return LatchState.TRIPPED
    return state  # ALL_CLEAR never arms; FAULT keeps UNARMED and TRIPPED as they are


def is_relay_energized(state: LatchState) -> bool:
    """Deny by default: only the ARMED state lets the belt run."""
    return state is LatchState.ARMED
