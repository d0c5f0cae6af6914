"""Running the loop's code once before the loop starts, so that its first real ticks cost what the later ones do.

The first time a code path runs it costs more than later: CPython (3.11 and
later) specialises bytecode over its first executions, a module imported lazily
loads then, and under emulation (qemu-user) or on a JIT every new block of
machine code is translated at its first use. Under qemu-user the first tick of
`run --bench` took about 0.2 s and the ticks of its first second up to 0.08 s
(bench/startup_profile.py), against a 0.1 s loop_late limit, so a slow machine
tripped loop_late in the first second. Here a copy of the fresh core, on fake
devices that play a person standing on a moving belt, ticks for a second of
simulated time (no sleeping: a fraction of a second of real time) before the real
loop starts. The real core never sees it.
"""

from __future__ import annotations

import copy
from typing import Callable

from drivers.fake import FakeBeltSensor, FakeImu, FakeRangeSensor, FakeRelay
from monitor.safety.core import SafetyCore
from monitor.safety.verdict import Verdict
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices
from monitor.service.loop.loop_timing import standing_samples

WARM_UP_S = 1.0  # the detectors' warm-ups end within it, so their later paths run too
WARM_UP_BELT_MPS = 1.0
WARM_UP_RANGE_M = 0.8


def warm_up(core: SafetyCore, start_s: float, *, seconds: float = WARM_UP_S,
            on_tick: Callable[[Verdict, SafetyCore], object] | None = None) -> int:
    """Tick a copy of this fresh core for `seconds` of simulated time from start_s; the ticks run.

    on_tick runs on every warm-up verdict too: give it only work without side effects
    (formatting a status line, say), never the real outputs."""
    twin = copy.deepcopy(core)
    rate_hz = core.config.loop.rate_hz
    clock = SimulatedClock(start_s)
    ticks = int(seconds * rate_hz) + 2
    times = [start_s + i / rate_hz for i in range(ticks)]
    devices = Devices(
        imu=FakeImu(clock.now, standing_samples(start_s, seconds + 1.0, core.config.imu.sample_rate_hz)),
        relay=FakeRelay(clock.now),
        belt=FakeBeltSensor(clock.now, [(t, WARM_UP_BELT_MPS) for t in times]) if core.has_belt else None,
        range_sensor=FakeRangeSensor(clock.now, [(t, WARM_UP_RANGE_M) for t in times]) if core.has_range else None,
    )
    daemon = Daemon(twin, devices, clock, on_tick=on_tick)
    return daemon.run(until_s=start_s + seconds, arm_at_start=True).ticks
