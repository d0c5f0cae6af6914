"""The daemon loop: read the drivers, run the core, drive the relay, every tick.

The loop runs at a fixed rate on whatever clock it is given, so the same code
runs the real service, replays traces and drives the bench on a simulated clock.
The relay is set in the same tick as the decision, right after it. On a stop
request, on SIGTERM or SIGINT, and on any error, the relay is released first and
the devices are closed after.

When the relay is a `DeadlineRelay` (the real service), each healthy tick renews
its lease after energizing it; a lease the watchdog saw run out trips the latch
at the next tick (`loop_stalled`), and only a person's reset lets it energize
again. A clock that steps backwards trips it too (`clock_backwards`), and the
loop never sleeps longer than one period, whatever its clock says.
"""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from drivers.interfaces import BeltReading, BeltSensor, Imu, ImuBatch, RangeReading, RangeSensor, Relay
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict
from monitor.service.loop.deadline import DeadlineRelay
from monitor.service.loop.tick_budget import GcPolicy, TickBudget


class LoopClock(Protocol):
    def now(self) -> float: ...
    def sleep_until(self, t_s: float) -> None: ...


@dataclass
class Devices:
    imu: Imu
    relay: Relay
    belt: BeltSensor | None = None
    range_sensor: RangeSensor | None = None

    def close(self, *, contain_all: bool = False) -> None:
        """Relay first: whatever else fails to close, the belt is stopped. contain_all: a
        BaseException from a driver's close (KeyboardInterrupt, SystemExit) is the driver's too,
        not a person's (the daemon handles SIGINT and SIGTERM itself); otherwise it is raised
        once every device was closed."""
        pending: BaseException | None = None
        for device in (self.relay, self.imu, self.belt, self.range_sensor):
            if device is None:
                continue
            try:
                device.close()
            except Exception:  # closing is best effort; the relay was released first
                pass
            except BaseException as err:
                if not contain_all and pending is None:
                    pending = err
        if pending is not None:
            raise pending


@dataclass
class LoopStats:
    ticks: int = 0
    late_ticks: int = 0
    first_trip: Verdict | None = None
    last: Verdict | None = None


class Daemon:
    """Runs the safety core against devices at a fixed rate."""

    def __init__(self, core: SafetyCore, devices: Devices, clock: LoopClock, *,
                 on_tick: Callable[[Verdict, SafetyCore], Any] | None = None,
                 budget: TickBudget | None = None, gc_policy: GcPolicy | None = None,
                 say: Callable[[str], Any] | None = None) -> None:
        self.core = core
        self.devices = devices
        self.clock = clock
        self.period_s = 1.0 / core.config.loop.rate_hz
        self.on_tick = on_tick  # must not block: hand work to a Sideline
        self.stats = LoopStats()
        self.permit = devices.relay if isinstance(devices.relay, DeadlineRelay) else None
        # A relay keeper (monitor.service.loop.relay_keeper) says what it did on its own: a trip.
        inner_relay = self.permit.relay if self.permit is not None else devices.relay
        self._take_relay_fault = getattr(inner_relay, "take_fault", None)
        self.budget = budget  # the loop's account of its own timing (the real service keeps one)
        self.gc_policy = gc_policy  # collections only between ticks, never a full one in the loop
        self.say = say  # a line for the journal; must not block (hand it to a Sideline)
        self._said_failures: set[str] = set()
        self._is_stopping = False
        self._was_armed = False
        self._clock_jump_s: float | None = None  # a backward step of the clock, for the next tick
        self._previous_handlers: dict[int, Any] = {}

    # -- one tick ----------------------------------------------------------------------
    def tick(self, now_s: float) -> Verdict:
        core = self.core
        devices = self.devices
        permit = self.permit
        if self._clock_jump_s is not None:
            core.loop_fault(now_s, "clock_backwards", {"jumped_back_s": self._clock_jump_s})
            self._clock_jump_s = None
        try:
            batch = devices.imu.read()
        except Exception as err:  # a driver should report, not raise; if it does, it is a failed read
            core.imu_read_failed(now_s, f"{type(err).__name__}: {err}")
        except BaseException as err:
            self._driver_failed(now_s, "imu", f"read() raised {type(err).__name__}", err)
        else:
            if not isinstance(batch, ImuBatch):
                self._driver_failed(now_s, "imu", f"read() returned {_kind(batch)}, not an ImuBatch")
            else:
                try:
                    core.ingest_imu(batch.samples, batch.health)
                except Exception as err:  # samples the core cannot take: the driver's, not a reading
                    self._driver_failed(now_s, "imu", f"read() returned samples that are not readings "
                                                      f"({type(err).__name__}: {err})")
        if devices.belt is not None and core.has_belt:
            belt_reading = self._reading(now_s, "belt", devices.belt.read)
            if isinstance(belt_reading, BeltReading):
                core.ingest_belt(belt_reading.t_s, belt_reading.speed_mps)
            elif belt_reading is not None:
                self._driver_failed(now_s, "belt", f"read() returned {_kind(belt_reading)}, not a BeltReading")
        if devices.range_sensor is not None and core.has_range:
            range_reading = self._reading(now_s, "range", devices.range_sensor.read)
            if isinstance(range_reading, RangeReading):
                core.ingest_range(range_reading.t_s, range_reading.distance_m)
            elif range_reading is not None:
                self._driver_failed(now_s, "range", f"read() returned {_kind(range_reading)}, not a RangeReading")
        try:
            is_feedback_ok = devices.relay.is_feedback_ok
        except Exception:  # the monitoring contact cannot be read: it cannot vouch for the relay
            is_feedback_ok = False
        except BaseException as err:
            is_feedback_ok = True  # said as the relay driver's failure instead
            self._driver_failed(now_s, "relay", f"is_feedback_ok raised {type(err).__name__}", err)
        if not is_feedback_ok:
            core.relay_feedback_failed(now_s)
        if permit is not None:  # after the reads: a read that blocked is seen in its own tick
            expiry = permit.take_expiry()
            if expiry is not None:
                stalled_s = permit.clock() - expiry.renewed_s
                core.loop_fault(now_s, "loop_stalled", {"stalled_s": stalled_s, "released_after_s": expiry.overdue_s},
                                {"deadline_s": expiry.lease_s})
        if self._take_relay_fault is not None:
            relay_fault = self._take_relay_fault()
            if relay_fault is not None:
                core.loop_fault(now_s, *relay_fault)
        verdict = core.tick(now_s)
        is_armed = verdict.state is LatchState.ARMED
        if verdict.is_relay_energized and not self._is_stopping:
            try:
                if permit is not None:
                    if not self._was_armed:
                        permit.rearm()  # a person armed the latch in this tick
                    permit.energize()
                    permit.renew()  # after the relay was set: the lease covers this tick's decision
                else:
                    devices.relay.energize()
            except BaseException as err:  # released now; the latch trips at the next tick
                devices.relay.release()
                self._driver_failed(now_s, "relay", f"energize() raised {type(err).__name__}: {err}", err)
        else:
            devices.relay.release()
        self._was_armed = is_armed
        stats = self.stats
        stats.ticks += 1
        stats.last = verdict
        if verdict.is_new_trip and stats.first_trip is None:
            stats.first_trip = verdict
        if self.on_tick is not None:
            self.on_tick(verdict, core)
        return verdict

    # -- the loop -------------------------------------------------------------------------
    def run(self, *, until_s: float | None = None, arm_at_start: bool = False,
            stop_on_trip: bool = False, after_trip_s: float = 0.0) -> LoopStats:
        """Tick at the loop rate until stopped (or until_s). Releases the relay and
        closes the devices however it ends."""
        clock = self.clock
        start_s = clock.now()
        stop_at_s = until_s
        k = 0
        last_s = start_s
        budget = self.budget
        gc_policy = self.gc_policy
        try:
            if self.permit is not None:
                self.permit.start_watchdog()
            if arm_at_start:
                self.core.request_reset()
            if gc_policy is not None:
                gc_policy.start()
            if budget is not None:
                budget.is_in_loop = True
            while not self._is_stopping:
                before_s = clock.now()
                if before_s < last_s:  # the clock stepped back: say so, and tick on from here
                    self._note_jump_back(last_s - before_s)
                    start_s, k = before_s, 0
                due_s = start_s + k * self.period_s
                if due_s > before_s + 1.5 * self.period_s:  # never sleep much longer than a period
                    due_s = before_s + self.period_s
                clock.sleep_until(due_s)
                now_s = clock.now()
                if now_s < before_s:
                    self._note_jump_back(before_s - now_s)
                    start_s, k = now_s, 0
                last_s = now_s
                if stop_at_s is not None and now_s > stop_at_s + 1e-9:
                    break
                if budget is not None:
                    budget.tick_started(now_s - due_s)
                verdict = self.tick(now_s)
                if budget is not None:
                    budget.tick_done()
                if verdict.is_new_trip and stop_on_trip:
                    stop_at_s = now_s + after_trip_s if stop_at_s is None else min(stop_at_s, now_s + after_trip_s)
                k += 1
                # Ticks whose time passed while this one ran are skipped, not bunched;
                # the core sees the long interval at the next tick and judges it.
                after_s = clock.now()
                next_k = math.ceil((after_s - start_s) / self.period_s - 1e-6)
                if next_k > k:
                    self.stats.late_ticks += next_k - k
                    if budget is not None:
                        budget.skipped(next_k - k)
                    k = next_k
                if gc_policy is not None:
                    gc_policy.between_ticks(start_s + k * self.period_s - after_s)
        finally:
            self.devices.relay.release()
            if budget is not None:
                budget.is_in_loop = False
            if gc_policy is not None:
                gc_policy.stop()
            self.devices.close(contain_all=bool(self._previous_handlers))
        return self.stats

    def _reading(self, now_s: float, device: str, read: Callable[[], object]) -> object:
        """What a belt or range driver's read() returned, or None when it raised: an ordinary
        exception is no reading (the staleness check decides), anything else a driver failure."""
        try:
            return read()
        except Exception:
            return None
        except BaseException as err:
            self._driver_failed(now_s, device, f"read() raised {type(err).__name__}", err)
            return None

    def _driver_failed(self, now_s: float, device: str, cause: str, err: BaseException | None = None) -> None:
        """A driver raised what no driver may, or returned what is not a reading: a latched
        sensor_fault (`<device>_driver_failed`), and its cause said once on the side.

        KeyboardInterrupt and SystemExit are a driver's own only while this loop handles SIGINT
        and SIGTERM itself (then a real Ctrl-C or stop never raises: it calls stop()); without
        those handlers (a replay, a test) they may be a person's Ctrl-C, and are raised on."""
        if isinstance(err, (KeyboardInterrupt, SystemExit)) and not self._previous_handlers:
            raise err
        self.core.loop_fault(now_s, f"{device}_driver_failed", {})
        said = f"{device}: {cause}"
        if said not in self._said_failures and self.say is not None:
            self._said_failures.add(said)
            self.say(f"treadguard: the {device} driver failed: {cause}; that is a sensor fault, and the relay "
                     f"stays released until a person re-arms. Check the {device}'s driver and its wiring, "
                     f"and report it if it repeats")

    def _note_jump_back(self, by_s: float) -> None:
        self._clock_jump_s = max(by_s, self._clock_jump_s or 0.0)

    def stop(self) -> None:
        """Ask the loop to end; the relay is released now, not at the end of the tick."""
        self._is_stopping = True
        self.devices.relay.release()

    # -- signals --------------------------------------------------------------------------
    def install_signal_handlers(self, on_reset: Callable[[], None] | None = None) -> None:
        """SIGTERM and SIGINT stop (relay released at once); SIGUSR1 asks to re-arm."""
        def stop(signum: int, frame: Any) -> None:
            self.stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous_handlers[signum] = signal.signal(signum, stop)
        self._previous_handlers[signal.SIGUSR1] = signal.signal(
            signal.SIGUSR1, lambda signum, frame: (on_reset or self.core.request_reset)())

    def restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()


def _kind(value: Any) -> str:
    """What a driver returned, in a few words."""
    return "None" if value is None else f"a {type(value).__name__}"
