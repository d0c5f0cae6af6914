"""Measuring this machine's loop: the real daemon loop on the real clock, fed by fake devices.

`treadguard check` runs it for a couple of seconds to show what the loop costs
on this Pi, and bench/realtime.py runs it for a minute with a trip record being
written in the middle. The IMU plays a recording (or quiet standing) re-timed
onto the real clock at the configured rates, so the work per tick is the work
the service does.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Sequence

from drivers.fake import FakeImu, FakeRelay
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.verdict import Verdict
from monitor.service.loop.clock import MonotonicClock
from monitor.service.loop.daemon import Daemon, Devices
from monitor.service.loop.tick_budget import GcPolicy, TickBudget

STANDARD_GRAVITY_MPS2 = 9.80665


def standing_samples(start_s: float, seconds: float, rate_hz: float) -> list[tuple[float, ...]]:
    """A person standing still: gravity on z with a little sway on every channel."""
    n = int(seconds * rate_hz) + 1
    out: list[tuple[float, ...]] = []
    for i in range(n):
        t = i / rate_hz
        out.append((start_s + t, 0.05 * math.sin(7.0 * t), 0.04 * math.cos(5.0 * t),
                    STANDARD_GRAVITY_MPS2 + 0.03 * math.sin(3.0 * t),
                    0.02 * math.sin(4.0 * t), 0.015 * math.cos(6.0 * t), 0.01 * math.sin(2.0 * t)))
    return out


def retimed(samples: Sequence[Sequence[float]], start_s: float, seconds: float,
            rate_hz: float) -> list[tuple[float, ...]]:
    """A recording played from start_s at rate_hz for `seconds`, looped, linearly interpolated."""
    t0 = samples[0][0]
    span = samples[-1][0] - t0
    out = []
    j = 0
    n = int(seconds * rate_hz) + 1
    for i in range(n):
        t = (i / rate_hz) % span + t0
        if j >= len(samples) - 1 or samples[j][0] > t:
            j = 0
        while samples[j + 1][0] < t:
            j += 1
        a, b = samples[j], samples[j + 1]
        w = (t - a[0]) / (b[0] - a[0])
        out.append((start_s + i / rate_hz,) + tuple(a[k] + w * (b[k] - a[k]) for k in range(1, 7)))
    return out


def measure(config: Config, seconds: float, *, samples: Sequence[Sequence[float]] | None = None,
            on_tick: Callable[[Verdict, SafetyCore], object] | None = None,
            setup: Callable[[FakeImu, float], None] | None = None,
            clock: MonotonicClock | None = None) -> TickBudget:
    """Run the daemon loop for `seconds` on the real clock; its tick budget.

    The IMU has no belt or range companion here: the figures are the loop's own cost
    and the machine's scheduling. `setup(imu, start_s)` may script faults (a trip)."""
    clock = clock or MonotonicClock()
    rate_hz = config.imu.sample_rate_hz
    start_s = clock.now()
    data = (retimed(samples, start_s, seconds + 1.0, rate_hz) if samples
            else standing_samples(start_s, seconds + 1.0, rate_hz))
    config = replace(config, belt=replace(config.belt, enabled=False), range=replace(config.range, enabled=False))
    imu = FakeImu(clock, data)
    if setup is not None:
        setup(imu, start_s)
    core = SafetyCore(config, start_s=start_s, has_belt=False, has_range=False)
    budget = TickBudget(1.0 / config.loop.rate_hz)
    daemon = Daemon(core, Devices(imu=imu, relay=FakeRelay(clock)), clock, on_tick=on_tick,
                    budget=budget, gc_policy=GcPolicy(budget))
    daemon.run(until_s=start_s + seconds, arm_at_start=True)
    return budget
