"""The loop's code run once before the loop (warm_up): the real core never sees it, and what the loop later decides is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.schema import Config
from monitor.formats.trace_reader import read_trace
from monitor.safety.latch import LatchState
from monitor.service.loop.warm_up import WARM_UP_S, warm_up
from monitor.service.sessions.replay import build_replay

DEMO = next((Path(__file__).resolve().parent.parent / "monitor" / "demo").glob("*.csv.gz"))


def first_trip(daemon, until_s):
    stats = daemon.run(until_s=until_s, arm_at_start=True, stop_on_trip=True)
    return None if stats.first_trip is None else (round(stats.first_trip.t_s, 6), stats.first_trip.trip.detail)


def test_warming_up_runs_a_second_of_ticks_on_a_copy_and_changes_no_decision_of_the_real_core():
    trace = read_trace(str(DEMO))
    t0_s, end_s = float(trace.t_s[0]), float(trace.t_s[-1])
    config = Config()
    plain = first_trip(build_replay(trace, config), end_s)
    daemon = build_replay(trace, config)
    lines = []
    ticks = warm_up(daemon.core, t0_s, on_tick=lambda verdict, core: lines.append(verdict.state))
    assert ticks == pytest.approx(WARM_UP_S * config.loop.rate_hz, abs=2)
    assert LatchState.ARMED in lines  # the armed paths ran, not only the disarmed ones
    assert daemon.core.state is LatchState.UNARMED and daemon.stats.ticks == 0  # untouched
    assert first_trip(daemon, end_s) == plain
    assert plain is not None and plain[1] == "stumble_detected"
