"""The safety core: samples in, verdict out, the clock passed in.

One core serves the daemon, replay and the bench. It is streaming: every sample
is judged once, in time order, by detectors whose state carries over, so the
result does not depend on how the samples were cut into batches. Time-based
checks (staleness, overspeed, drift) are judged at each loop tick, at the time
the caller passes in. The core never reads a clock and never does I/O.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Iterable, Sequence

from drivers.interfaces import READ_FAILED, HealthEvent
from monitor.safety import mount as mount_
from monitor.safety.ceiling import BackwardCeiling, CeilingEvent, CeilingParams
from monitor.safety.direction import Direction, DirectionEstimator, DirectionParams
from monitor.safety.drift import RangeDrift, StepDrift, StepTracker
from monitor.safety.health import ChannelLiveness, FailedReadRate, GravityBand, ImuHealth, ReadingHealth
from monitor.safety.latch import LatchEvent, LatchState, event_for, is_relay_energized, next_state
from monitor.safety.motion import MotionDetector
from monitor.safety.overspeed import OverspeedCheck
from monitor.safety.steadiness import Steadiness
from monitor.safety.verdict import BACKWARD_CEILING, SENSOR_FAULT, STUMBLE, Problem, Trip, Verdict

if TYPE_CHECKING:  # the declarations only: the core reads the settings it is handed, never a file
    from monitor.config.schema import Config

# Plausible readings: a pulse sensor cannot report a negative speed, and no
# home treadmill belt runs at 15 m/s (54 km/h); a range beyond 10 m is no echo.
MAX_PLAUSIBLE_BELT_MPS = 15.0
MAX_PLAUSIBLE_RANGE_M = 10.0


class SafetyCore:
    """Decides, tick by tick, whether the belt may run."""

    def __init__(self, config: "Config", *, start_s: float, walking: str | None = None,
                 imu_mount: Sequence[Sequence[float]] | None = None,
                 has_belt: bool | None = None, has_range: bool | None = None,
                 rear_edge_m: float | None = None, ceiling_mps: float | None = None) -> None:
        self.config = config
        self.walking = walking or config.session.walking
        mount = imu_mount if imu_mount is not None else (config.imu.mount or None)
        self._rotation: mount_.Rotation | None = mount_.from_matrix(mount) if mount else None
        self.is_mount_known = mount is not None
        self.has_belt = config.belt.enabled if has_belt is None else has_belt
        self.has_range = config.range.enabled if has_range is None else has_range

        imu = config.imu
        self.imu_health = ImuHealth(
            timeout_s=imu.timeout_s, failed_reads_max=imu.failed_reads_max, frozen_s=imu.frozen_s,
            max_accel_mps2=imu.max_accel_mps2, max_gyro_radps=imu.max_gyro_radps, start_s=start_s,
            gravity=GravityBand(window_s=imu.gravity_window_s, low_mps2=imu.gravity_min_mps2,
                                high_mps2=imu.gravity_max_mps2, hole_s=imu.timeout_s),
            liveness=ChannelLiveness(stuck_s=imu.channel_stuck_s, gyro_zero_s=imu.gyro_zero_s),
            failed_rate=FailedReadRate(window_s=imu.failed_reads_window_s,
                                       max_in_window=imu.failed_reads_in_window_max))
        self.motion = MotionDetector(config.motion)
        self._hole_s = imu.timeout_s  # samples further apart than this are a hole: restart filters
        self._last_sample_t_s: float | None = None

        belt = config.belt
        self.belt_health = ReadingHealth("belt", "mps", timeout_s=belt.timeout_s, low=0.0,
                                         high=MAX_PLAUSIBLE_BELT_MPS, start_s=start_s)
        drift = config.drift

        def steps() -> StepTracker:
            return StepTracker(
                band_low_hz=drift.step_band_low_hz, band_high_hz=drift.step_band_high_hz,
                level_tau_s=drift.step_level_tau_s, level_ratio=drift.step_level_ratio,
                floor_mps2=drift.step_floor_mps2, period_ratio=drift.no_step_period_ratio,
                longest_ratio=drift.no_step_longest_ratio,
                min_no_step_s=drift.min_no_step_s, max_no_step_s=drift.max_no_step_s,
                steps_to_learn=drift.steps_to_learn, start_s=start_s)

        self.step_drift = StepDrift(steps(), min_belt_mps=drift.min_belt_mps, max_carry_m=drift.max_carry_m,
                                    start_s=start_s)
        d = config.direction
        self.is_direction_on = d.enabled
        # The body's front along the treadmill frame's x: the mount is calibrated facing the declared way.
        self._front_sign = -1.0 if self.walking == "backward" else 1.0
        self.direction = DirectionEstimator(
            DirectionParams(turn_rate_radps=d.turn_rate_radps, turn_min_deg=d.turn_min_deg, gait_tau_s=d.gait_tau_s,
                            evidence_s=d.evidence_s, min_correlation=d.min_correlation,
                            walk_max_step_hz=d.walk_max_step_hz, walk_max_vertical_mps2=d.walk_max_vertical_mps2,
                            run_min_step_hz=d.run_min_step_hz, run_min_vertical_mps2=d.run_min_vertical_mps2),
            steps(), walking=self.walking, has_front=self.is_mount_known, start_s=start_s, has_belt=self.has_belt)
        self.overspeed = OverspeedCheck(max_speed_mps=self.speed_limit_mps(), confirm_s=belt.overspeed_confirm_s)
        c = config.ceiling
        self.is_ceiling_on = c.enabled and self.has_belt
        # The starting ceiling comes in (the service keeps it on disk); changes go out as events.
        self.ceiling = BackwardCeiling(
            CeilingParams(min_mps=c.min_mps, max_mps=belt.max_backward_mps, step_mps=c.step_mps,
                          near_mps=c.near_mps, rise_after_s=c.rise_after_s, confirm_s=c.confirm_s),
            start_mps=c.start_mps if ceiling_mps is None else ceiling_mps)
        self.ceiling_log: deque[CeilingEvent] = deque(maxlen=1000)  # for replay and status
        self.new_ceiling_events: list[CeilingEvent] = []  # this tick's, for the service to keep
        self.steadiness = Steadiness(max_step_cv=c.steady_max_step_cv, max_sway_radps=c.steady_max_sway_radps)
        self.is_step_drift_on = drift.enabled and self.has_belt and not self.has_range

        rng = config.range
        self.range_health = ReadingHealth("range", "m", timeout_s=rng.timeout_s, low=0.0,
                                          high=MAX_PLAUSIBLE_RANGE_M, start_s=start_s)
        self.range_drift = RangeDrift(rear_edge_m=rear_edge_m if rear_edge_m is not None else rng.rear_edge_m,
                                      min_rear_margin_m=rng.min_rear_margin_m)

        self.state = LatchState.UNARMED
        self.trip: Trip | None = None
        self._is_reset_requested = False
        self._last_tick_s: float | None = None
        self._events: list[Problem] = []
        self.history_s = config.record.before_s
        self.history: deque[Sequence[float]] = deque()  # raw samples, for explaining a trip
        self.belt_history: deque[tuple[float, float]] = deque()  # (t_s, belt_mps) readings, likewise
        self.range_history: deque[tuple[float, float]] = deque()  # (t_s, range_m) readings

    # -- inputs ------------------------------------------------------------------
    def ingest_imu(self, samples: Iterable[Sequence[float]],
                   health: Sequence[HealthEvent] = ()) -> None:
        """IMU samples (t_s, ax, ay, az, gx, gy, gz in the sensor frame, oldest
        first) and the driver's health events, judged in time order."""
        pending = sorted(health, key=lambda e: e.t_s) if health else None
        for sample in samples:
            t_s = sample[0]
            if pending:
                while pending and pending[0].t_s <= t_s:
                    self._health_event(pending.pop(0))
            self._sample(t_s, sample)
        if pending:
            for event in pending:
                self._health_event(event)

    def _health_event(self, event: HealthEvent) -> None:
        self.imu_health.report(event.t_s, event.kind, event.detail)
        self.motion.gap()  # a lost sample breaks the filters' continuity
        self.direction.gap()

    def _is_steady(self) -> bool:
        """Steady gait and no drift pre-warning (the walker's waist inside the range sensor's warning zone)."""
        if not self.steadiness.is_steady:
            return False
        margin_m = self.range_drift.margin_m if self.has_range else None
        rng = self.config.range
        return margin_m is None or margin_m >= rng.min_rear_margin_m + rng.warning_zone_m

    def speed_limit_mps(self) -> float:
        """The belt speed allowed now: the forward limit only while the walker is known to face
        the console; the backward one otherwise (facing the rear, or not known)."""
        belt = self.config.belt
        return belt.max_forward_mps if self.direction.state is Direction.FORWARD else belt.max_backward_mps

    def _sample(self, t_s: float, sample: Sequence[float]) -> None:
        values = tuple(sample[1:7])
        if not self.imu_health.accept(t_s, values):
            self.motion.gap()
            return
        ax, ay, az, gx, gy, gz = values
        r = self._rotation
        if r is None:
            r = self._rotation = mount_.from_gravity(ax, ay, az)
        last = self._last_sample_t_s
        if last is not None and t_s - last > self._hole_s:
            self.motion.gap()
            self.direction.gap()
        self._last_sample_t_s = t_s
        tax = r[0] * ax + r[1] * ay + r[2] * az
        tay = r[3] * ax + r[4] * ay + r[5] * az
        taz = r[6] * ax + r[7] * ay + r[8] * az
        tgx = r[0] * gx + r[1] * gy + r[2] * gz
        tgy = r[3] * gx + r[4] * gy + r[5] * gz
        tgz = r[6] * gx + r[7] * gy + r[8] * gz
        finding = self.motion.update(t_s, tax, tay, taz, tgx, tgy, tgz)
        if finding is not None:
            self._events.append(Problem(finding.reason, f"{finding.reason}_detected", finding.t_s,
                                        dict(finding.values)))
        if self.is_step_drift_on:  # off with a range sensor or without a belt sensor: no cost
            self.step_drift.sample(t_s, taz)
        if self.is_direction_on:
            if self.direction.sample(t_s, self._front_sign * tax, taz, tgz):
                self.steadiness.step(t_s, self.direction.state.value)
            self.steadiness.sample(t_s, tgx, tgy)
        self.history.append(sample)

    def imu_read_failed(self, t_s: float, detail: str = "") -> None:
        """A whole IMU read failed (the driver raised instead of reporting)."""
        self._health_event(HealthEvent(t_s, READ_FAILED, detail))

    def relay_feedback_failed(self, now_s: float) -> None:
        """The relay's monitoring contact disagrees with the command: judged at the next tick."""
        self._events.append(Problem(SENSOR_FAULT, "relay_feedback", now_s))

    def loop_fault(self, now_s: float, detail: str, values: dict[str, float],
                   limits: dict[str, float] | None = None) -> None:
        """The loop around the core failed itself (it stalled past its deadline, its clock
        jumped back): a sensor fault judged at the next tick, explained by values and limits."""
        self._events.append(Problem(SENSOR_FAULT, detail, now_s, dict(values), dict(limits or {})))

    def ingest_belt(self, t_s: float, speed_mps: float) -> None:
        if self.belt_health.accept(t_s, speed_mps):
            self.overspeed.update(t_s, speed_mps)
            self.belt_history.append((t_s, speed_mps))

    def ingest_range(self, t_s: float, distance_m: float) -> None:
        if self.range_health.accept(t_s, distance_m):
            self.range_drift.update(t_s, distance_m)
            self.range_history.append((t_s, distance_m))

    def request_reset(self) -> None:
        """A person asked to arm (or re-arm); judged at the next tick."""
        self._is_reset_requested = True

    # -- the decision ---------------------------------------------------------------
    def tick(self, now_s: float) -> Verdict:
        """Judge every check at now_s and move the latch. Called once per loop tick."""
        problems: list[Problem] = []
        if self._events:
            problems.extend(self._events)
            self._events.clear()
        last_tick_s = self._last_tick_s
        if last_tick_s is not None and now_s - last_tick_s > self.config.loop.late_s:
            problems.append(Problem(SENSOR_FAULT, "loop_late", now_s, {"tick_interval_s": now_s - last_tick_s},
                                    {"late_s": self.config.loop.late_s}))
        self._last_tick_s = now_s
        self.imu_health.check(now_s, problems)
        if self.has_belt:
            self.belt_health.check(now_s, problems)
            self.overspeed.set_limit(now_s, self.speed_limit_mps())
            self.overspeed.check(now_s, problems)
            if self.is_ceiling_on:
                state = self.direction.state
                self.ceiling.tick(now_s, belt_mps=self.overspeed.speed_mps, applies=state is not Direction.FORWARD,
                                  is_backward=state is Direction.BACKWARD, is_steady=self._is_steady(),
                                  problems=problems)
            if self.is_step_drift_on:
                self.step_drift.check(now_s, self.overspeed.speed_mps, problems)
        if self.has_range:
            self.range_health.check(now_s, problems)
            self.range_drift.check(now_s, problems)
        if len(problems) > 1:
            problems = _first_of_each(problems)

        oldest_s = now_s - self.history_s
        for history in (self.history, self.belt_history, self.range_history):
            while history and history[0][0] < oldest_s:
                history.popleft()

        was = self.state
        event = event_for(is_fault=bool(problems), is_reset=self._is_reset_requested)
        self._is_reset_requested = False
        self.state = next_state(was, event)
        is_new_trip = self.state is LatchState.TRIPPED and was is not LatchState.TRIPPED
        if is_new_trip and self.is_ceiling_on:
            if any(p.reason == BACKWARD_CEILING for p in problems):
                self.ceiling.tripped(now_s, self.overspeed.speed_mps)
            if self.direction.state is not Direction.FORWARD and any(p.reason == STUMBLE for p in problems):
                self.ceiling.stumbled(now_s, self.overspeed.speed_mps)  # once per stumble: at its trip
        if self.is_ceiling_on:
            self.new_ceiling_events = self.ceiling.take_events()
            self.ceiling_log.extend(self.new_ceiling_events)
        if self.state is LatchState.ARMED:
            self.trip = None
        elif is_new_trip or event is LatchEvent.RESET_FAULT:
            self.trip = Trip(now_s, tuple(problems))  # a refused reset explains itself anew
        return Verdict(now_s, self.state, is_relay_energized(self.state), tuple(problems),
                       self.trip, is_new_trip)


def _first_of_each(problems: list[Problem]) -> list[Problem]:
    """Time order, and only the first problem of each check (a detector can fire
    on several samples within one tick)."""
    seen: set[str] = set()
    first = []
    for problem in sorted(problems, key=lambda p: p.t_s):
        if problem.detail not in seen:
            seen.add(problem.detail)
            first.append(problem)
    return first
