"""The trip latch: every state against every event, and nothing re-arms by itself."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.safety.latch import LatchEvent, LatchState, event_for, is_relay_energized, next_state

A, U, T = LatchState.ARMED, LatchState.UNARMED, LatchState.TRIPPED
E = LatchEvent

# The whole truth table, written out so a change to the latch has to change it.
EXPECTED = {
    (U, E.ALL_CLEAR): U, (U, E.FAULT): U, (U, E.RESET_ALL_CLEAR): A, (U, E.RESET_FAULT): T,
    (A, E.ALL_CLEAR): A, (A, E.FAULT): T, (A, E.RESET_ALL_CLEAR): A, (A, E.RESET_FAULT): T,
    (T, E.ALL_CLEAR): T, (T, E.FAULT): T, (T, E.RESET_ALL_CLEAR): A, (T, E.RESET_FAULT): T,
}


def test_the_table_covers_every_state_and_event():
    assert set(EXPECTED) == set(itertools.product(LatchState, LatchEvent))


@pytest.mark.parametrize("state,event", sorted(EXPECTED, key=lambda k: (k[0].value, k[1].value)))
def test_transition(state, event):
    assert next_state(state, event) is EXPECTED[(state, event)]


def test_only_armed_energizes_the_relay():
    assert [s for s in LatchState if is_relay_energized(s)] == [A]


def test_a_new_latch_would_start_released():
    assert not is_relay_energized(U)


@pytest.mark.parametrize("is_fault,is_reset,event", [
    (False, False, E.ALL_CLEAR), (True, False, E.FAULT),
    (False, True, E.RESET_ALL_CLEAR), (True, True, E.RESET_FAULT),
])
def test_event_for(is_fault, is_reset, event):
    assert event_for(is_fault=is_fault, is_reset=is_reset) is event


@given(st.lists(st.sampled_from([E.ALL_CLEAR, E.FAULT, E.RESET_FAULT]), max_size=50),
       st.sampled_from([U, T]))
def test_nothing_arms_without_a_reset_while_all_clear(events, start):
    state = start
    for event in events:
        state = next_state(state, event)
        assert state is not A


@given(st.lists(st.sampled_from(list(LatchEvent)), max_size=50))
def test_a_fault_while_armed_always_trips(events):
    state = U
    for event in events:
        before = state
        state = next_state(state, event)
        if before is A and event is E.FAULT:
            assert state is T
