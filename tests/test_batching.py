"""Streaming: cutting a trace into random batches gives the same trip time and reason.

The core judges samples one by one and keeps its state between calls, so the
way the samples reach it (one per call, a burst per tick, split anywhere)
must not change the decision. Ticks stay on the loop's schedule, as in the daemon.
"""

from functools import lru_cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.interfaces import READ_FAILED, HealthEvent
from monitor.config.schema import Config
from monitor.formats.trace_format import Trace
from monitor.formats.trace_reader import read_trace
from monitor.safety.core import SafetyCore
from monitor.service.sessions.replay import replay
from tests.support import sisfall

CONFIG = Config()


@lru_cache(maxsize=None)
def _trace(name: str, failed_every: int = 0) -> Trace:
    trace = read_trace(sisfall(name))
    if failed_every:  # sprinkle single failed reads: they must not change anything either
        fail = np.zeros(trace.samples, bool)
        fail[::failed_every] = True
        accel, gyro = trace.accel_mps2.copy(), trace.gyro_radps.copy()
        accel[fail], gyro[fail] = np.nan, np.nan
        trace = Trace(trace.path, trace.meta, trace.t_s, accel, gyro, ~fail)
    return trace


def _run_in_batches(trace: Trace, cut_after: set[int]):
    """Feed the core tick by tick, each tick's samples split at the given indices."""
    t0 = float(trace.t_s[0])
    core = SafetyCore(CONFIG, start_s=t0, imu_mount=trace.imu_mount.tolist(), has_belt=False, has_range=False)
    rows = np.column_stack([trace.t_s, trace.accel_mps2, trace.gyro_radps]).tolist()
    ok = trace.imu_ok.tolist()
    period = 1.0 / CONFIG.loop.rate_hz
    core.request_reset()
    i, k = 0, 0
    while True:
        now = t0 + k * period
        if now > trace.t_s[-1] + 1e-9:
            return None
        samples, events = [], []
        while i < len(rows) and rows[i][0] <= now:
            if ok[i]:
                samples.append(rows[i])
            else:
                events.append(HealthEvent(rows[i][0], READ_FAILED))
            if i in cut_after:
                core.ingest_imu(samples, events)
                samples, events = [], []
            i += 1
        core.ingest_imu(samples, events)
        verdict = core.tick(now)
        if verdict.is_new_trip:
            return verdict.t_s, verdict.trip.reason
        k += 1


CASES = [("F01-SA01-R01", 0), ("D18-SA02-R01", 0), ("F05-SA03-R01", 37)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), cuts=st.sets(st.integers(0, 3000), max_size=400))
def test_random_batches_give_the_same_trip_time_and_reason(case, cuts):
    trace = _trace(*case)
    reference = replay(trace, CONFIG)
    assert reference.tripped
    assert _run_in_batches(trace, cuts) == (reference.trip_t, reference.reason)


def test_one_sample_per_call_gives_the_same_result():
    trace = _trace("F01-SA01-R01")
    reference = replay(trace, CONFIG)
    assert _run_in_batches(trace, set(range(trace.samples))) == (reference.trip_t, reference.reason)
