"""Permission to run expires inside the process: a watchdog with its own clock releases the
relay once the loop stops renewing it, whatever the loop is stuck in, and the loop, when it
runs again, trips with `loop_stalled` and says how long. A clock that steps back trips too.

The watchdog's clock is the test's, and its check is stepped by the test: no sleeping,
except one test that runs the real thread and waits on an event (bounded, never timed)."""

import threading

import pytest

from drivers.fake import FakeImu, FakeRelay
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices
from monitor.service.loop.deadline import DeadlineRelay, lease_for
from tests.support import IDENTITY_MOUNT, standing

LEASE_S = lease_for(Config().loop.rate_hz, Config().loop.deadline_ticks)


def test_the_lease_is_a_few_ticks_and_at_most_50_ms_at_100_hz():
    assert Config().loop.rate_hz == 100.0
    assert LEASE_S == pytest.approx(0.04) and LEASE_S <= 0.05


def test_the_relay_is_released_just_after_the_deadline_not_before():
    clock = SimulatedClock(10.0)
    relay = FakeRelay(clock)
    permit = DeadlineRelay(relay, 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    clock.t_s = 10.04
    assert not permit.check() and relay.is_energized  # at the deadline: still allowed
    clock.t_s = 10.040001
    assert permit.check() and not relay.is_energized  # just past it: released by the watchdog
    expiry = permit.take_expiry()
    assert expiry.renewed_s == 10.0 and expiry.overdue_s == pytest.approx(0.040001)
    assert permit.take_expiry() is None  # taken once


def test_after_an_expiry_nothing_energizes_until_a_person_rearms():
    clock = SimulatedClock(0.0)
    relay = FakeRelay(clock)
    permit = DeadlineRelay(relay, 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    clock.advance(1.0)
    permit.check()
    permit.energize()  # the loop, waking up, tries to carry on
    assert not relay.is_energized and permit.is_expired
    permit.rearm()
    permit.energize()
    assert relay.is_energized


def test_a_released_relay_has_no_deadline_to_miss():
    clock = SimulatedClock(0.0)
    permit = DeadlineRelay(FakeRelay(clock), 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    permit.release()
    clock.advance(5.0)
    assert not permit.check() and permit.take_expiry() is None


class RacingRelay(FakeRelay):
    """The watchdog thread runs in the middle of the loop's energize() (between the check
    of the flag and the pin write, or just after the write)."""

    def __init__(self, clock, when: str) -> None:
        super().__init__(clock)
        self.when = when
        self.permit: DeadlineRelay | None = None

    def energize(self) -> None:
        if self.when == "before_write":
            self.permit.check()
        super().energize()
        if self.when == "after_write":
            self.permit.check()


@pytest.mark.parametrize("when", ["before_write", "after_write"])
def test_the_watchdog_wins_a_race_with_the_loop_energizing(when):
    clock = SimulatedClock(0.0)
    relay = RacingRelay(clock, when)
    permit = DeadlineRelay(relay, 0.04, clock=clock, threaded=False)
    relay.permit = permit
    relay.when = None
    permit.energize()
    permit.renew()
    clock.advance(0.05)  # the lease ran out; the loop energizes once more as the watchdog fires
    relay.when = when
    permit.energize()
    relay.when = None
    permit.check()
    assert not relay.is_energized


# -- the daemon with a run permit ---------------------------------------------------------------

class BlockingImu(FakeImu):
    """An IMU whose read blocks for block_s from block_at_s (a wedged bus), while the
    watchdog keeps checking every step_s of the blocked time."""

    def __init__(self, clock, samples, *, block_at_s: float, block_s: float, step_s: float = 0.001):
        super().__init__(clock, samples)
        self.clock = clock
        self.block_at_s = block_at_s
        self.block_s = block_s
        self.step_s = step_s
        self.permit: DeadlineRelay | None = None
        self.relay_released_s: float | None = None

    def read(self):
        if self.block_at_s is not None and self.clock.t_s >= self.block_at_s:
            self.block_at_s = None
            end_s = self.clock.t_s + self.block_s
            while self.clock.t_s < end_s:
                self.clock.advance(self.step_s)
                self.permit.check()
                if self.relay_released_s is None and not self.permit.relay.is_energized:
                    self.relay_released_s = self.clock.t_s
        return super().read()


def blocked_daemon(block_s: float):
    clock = SimulatedClock(0.0)
    imu = BlockingImu(clock, standing(0.0, 10.0, 200.0), block_at_s=3.0, block_s=block_s)
    relay = FakeRelay(clock)
    permit = DeadlineRelay(relay, LEASE_S, clock=clock, threaded=False)
    imu.permit = permit
    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=False, has_range=False)
    return Daemon(core, Devices(imu=imu, relay=permit), clock), imu, relay, permit


def test_a_read_blocked_for_2_s_releases_the_relay_within_the_lease_and_then_trips_loop_stalled():
    daemon, imu, relay, permit = blocked_daemon(2.0)
    stats = daemon.run(until_s=6.0, arm_at_start=True)
    last_energized_tick_s = 3.0 - 0.01  # the tick before the blocked read renewed the lease
    assert imu.relay_released_s is not None
    assert imu.relay_released_s - last_energized_tick_s <= LEASE_S + 0.001  # one watchdog step
    trip = stats.first_trip
    assert trip.trip.reason == "sensor_fault" and trip.trip.detail == "loop_stalled"
    problem = trip.trip.problems[0]
    assert problem.values["stalled_s"] == pytest.approx(2.01, abs=0.002)  # how long, said in the trip
    assert problem.values["released_after_s"] == pytest.approx(LEASE_S, abs=0.0011)
    assert problem.limits == {"deadline_s": LEASE_S}
    assert [state for _, state in relay.changes] == [True, False]  # never energized again by itself


def test_a_reset_by_a_person_after_a_stall_energizes_again():
    daemon, imu, relay, permit = blocked_daemon(0.5)
    resets = []

    def person(verdict, core):
        if verdict.state is LatchState.TRIPPED and not resets and verdict.t_s > 4.0:
            resets.append(verdict.t_s)
            core.request_reset()

    daemon.on_tick = person
    daemon.run(until_s=5.0, arm_at_start=True)
    assert [state for _, state in relay.changes] == [True, False, True, False]  # the last: the run ended
    assert relay.changes[2][0] > resets[0]


def test_a_clock_stepping_back_trips_at_once_and_the_loop_does_not_sleep_it_off():
    clock = SimulatedClock(0.0)
    relay = FakeRelay(clock)
    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=False, has_range=False)
    daemon = Daemon(core, Devices(imu=FakeImu(clock, standing(0.0, 20.0, 200.0)), relay=relay), clock)
    ticks = []

    def jump(verdict, core):
        ticks.append(verdict)
        if abs(verdict.t_s - 15.0) < 1e-6 and len(ticks) < 1600:
            clock.t_s = 5.0  # the clock steps back 10 s, once

    daemon.on_tick = jump
    stats = daemon.run(until_s=16.0, arm_at_start=True)
    after = ticks[ticks.index(next(v for v in ticks if abs(v.t_s - 15.0) < 1e-6)) + 1]
    assert after.t_s <= 5.0 + 0.01 + 1e-9  # the next tick came one period later, not 10 s later
    assert after.is_new_trip and after.trip.detail == "clock_backwards"
    assert after.trip.problems[0].values == {"jumped_back_s": pytest.approx(10.0)}
    assert stats.first_trip is after and not relay.is_energized


def test_a_clock_stepping_forward_trips_as_a_late_loop():
    clock = SimulatedClock(0.0)
    core = SafetyCore(Config(), start_s=0.0, imu_mount=IDENTITY_MOUNT, has_belt=False, has_range=False)
    relay = FakeRelay(clock)
    daemon = Daemon(core, Devices(imu=FakeImu(clock, standing(0.0, 20.0, 200.0)), relay=relay), clock)

    def jump(verdict, core):
        if abs(verdict.t_s - 3.0) < 1e-6:
            clock.advance(5.0)

    daemon.on_tick = jump
    stats = daemon.run(until_s=9.0, arm_at_start=True)
    assert stats.first_trip.trip.detail == "loop_late" and stats.first_trip.t_s == pytest.approx(8.0)
    assert not relay.is_energized


def test_the_real_watchdog_thread_releases_a_relay_the_loop_stopped_renewing():
    """The one test with a real thread on the real monotonic clock: the loop renews once and
    then is stuck; the thread releases the relay. It waits on an event (at most 5 s, far
    beyond the 40 ms lease) and asserts only that it happened, never how fast."""
    released = threading.Event()

    class SignallingRelay(FakeRelay):
        def release(self):
            super().release()
            released.set()

    relay = SignallingRelay(lambda: 0.0)
    permit = DeadlineRelay(relay, LEASE_S)
    permit.start_watchdog()
    try:
        permit.energize()
        permit.renew()
        assert released.wait(5.0)
        assert not relay.is_energized and permit.is_expired
        assert permit.take_expiry().overdue_s > LEASE_S
    finally:
        permit.close()
    assert permit._watch_thread is None


@pytest.mark.parametrize("renewed_s", [0.01, 10.0, 86400.0])
def test_how_long_after_the_last_renewal_the_relay_went_is_the_same_whatever_the_clock_reads(renewed_s):
    """The trip says how long after the loop's last renewal the relay was released, just after boot
    (a monotonic clock near zero) as much as after a day."""
    clock = SimulatedClock(renewed_s)
    permit = DeadlineRelay(FakeRelay(clock), 0.04, clock=clock, threaded=False)
    permit.energize()
    permit.renew()
    clock.t_s = renewed_s + 0.05
    assert permit.check()
    expiry = permit.take_expiry()
    assert expiry.renewed_s == pytest.approx(renewed_s) and expiry.overdue_s == pytest.approx(0.05)
