"""Runs a scenario closed loop with treadguard or a baseline, and scores it.

treadguard runs as itself: the real daemon loop and safety core, on a simulated
clock, reading the simulated devices; its relay opens the simulated safety-key
loop. The baselines run on the same world and the same IMU samples, ticking at
the same rate, and stop the belt the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from drivers.fake import FakeImu
from monitor.config.schema import Config
from monitor.formats.trace_format import Trace
from monitor.safety.core import SafetyCore
from monitor.safety.verdict import Verdict
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices, LoopClock
from monitor.sim.body import Fall, Motion, Stumble, ramp, synthesize
from monitor.sim.scenarios import END, NORMAL, START, TOO_FAST, TURN, TURN_STANDING, Scenario
from monitor.sim.world import (
    DRIFTING,
    FALLEN,
    OFF,
    RAILS,
    STEPPING,
    STOPPED,
    Script,
    SimBeltSensor,
    SimRangeSensor,
    SimRelay,
    Treadmill,
    World,
)

IMU_RATE_HZ = 200.0
SYSTEMS = ("treadguard", "safety_key", "threshold")
KEY_PULL_FRACTION = 0.7  # ISO 20957-6: the key releases at 70 % of the deck length back from the console
THRESHOLD_ACCEL_MPS2 = 3 * 9.80665  # the classic fall threshold: 3 g resultant...
THRESHOLD_RATE_RADPS = 3.1  # ...or 3.1 rad/s angular rate
AFTER_STOP_S = 1.0  # keep simulating this long after the belt has stopped
BELT_CELL_S = 0.05  # an exported trace holds a belt reading every 50 ms
ARM_AT_S = 1.0  # the walker presses reset a second after clipping on, with data flowing


def bench_config(walking: str = "forward", treadmill: Treadmill = Treadmill(), range_sensor: bool = True) -> Config:
    """treadguard as fitted on the bench treadmill: IMU, belt sensor and (unless
    range_sensor is False) range sensor."""
    base = Config()
    from dataclasses import replace

    return replace(base, session=replace(base.session, walking=walking),
                   range=replace(base.range, enabled=range_sensor, rear_edge_m=treadmill.rear_edge_m))


@dataclass(frozen=True)
class Outcome:
    scenario: str
    system: str
    hazard: bool
    walking: str
    tripped: bool
    trip_s: float | None  # from the event's onset (from the start for a normal session)
    margin_m: float
    safe: bool
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"scenario": self.scenario, "system": self.system, "hazard": self.hazard,
                "walking": self.walking, "tripped": self.tripped,
                "trip_s": None if self.trip_s is None else round(self.trip_s, 3),
                "margin_m": round(self.margin_m, 3), "safe": self.safe}


@dataclass
class Built:
    """A scenario made concrete: the IMU samples and the walker's script."""

    scenario: Scenario
    motion: Motion
    script: Script
    samples: list
    fall_onset_s: float = math.inf  # when a scripted fall starts (inf: none)


def _belt_command(scenario: Scenario) -> Callable[[float], float]:
    """The speed the walker asks of the belt: their speed or speed profile, started
    only once they have stood stand_s on a stopped belt, and stopped at the end of
    a session."""
    if not scenario.profile_kmh:
        speed = scenario.speed_mps
        command: Callable[[float], float] = lambda t: speed
    else:
        times = np.array([p[0] for p in scenario.profile_kmh])
        speeds = np.array([p[1] for p in scenario.profile_kmh]) / 3.6
        command = lambda t: float(np.interp(t, times, speeds))
    start_s = scenario.stand_s if scenario.stand_on == "belt" else 0.0
    end_s = scenario.onset_s if scenario.event == END else float("inf")
    return lambda t: command(t) if start_s <= t < end_s else 0.0


def build(scenario: Scenario, treadmill: Treadmill = Treadmill()) -> Built:
    rng = np.random.default_rng(scenario.seed)
    n = int(scenario.duration_s * IMU_RATE_HZ)
    t = np.arange(n) / IMU_RATE_HZ + rng.uniform(0, 0.2 / IMU_RATE_HZ, n)  # a little jitter
    command = _belt_command(scenario)
    # The belt as the motor delivers it (the walker's stepping speed follows it).
    belt = np.empty(n)
    speed = command(0.0)
    for i in range(n):
        step = treadmill.motor_accel_mps2 / IMU_RATE_HZ
        speed += max(-step, min(step, command(float(t[i])) - speed))
        belt[i] = speed
    onset, event = scenario.onset_s, scenario.event
    gait_on = np.ones(n)
    falls: tuple[Fall, ...] = ()
    stumbles: tuple[Stumble, ...] = ()
    clip_off = side_step = None
    activity: Callable[[float], str] = lambda s: STEPPING
    stumble_s: tuple[float, ...] = ()
    if event == "stumble":
        stumbles = (Stumble(onset, "backward" if scenario.walking == "backward" else "forward"),)
        stumble_s = (onset,)
    elif event in ("trip", "slip", "fall_forward", "fall_backward", "fall_sideways"):
        direction = {"trip": "forward", "slip": "backward", "fall_forward": "forward",
                     "fall_backward": "backward", "fall_sideways": "right"}[event]
        push = {"trip": 1.0, "slip": 1.6}.get(event, 0.6)
        falls = (Fall(onset, direction, push_radps=push, stumble_first=event == "trip"),)
        activity = lambda s: FALLEN if s >= onset else STEPPING
    elif event == "stop":
        gait_on = 1.0 - ramp(t, onset, 0.5)
        activity = lambda s: STOPPED if s >= onset else STEPPING
    elif event == "drift":
        activity = lambda s: DRIFTING if s >= onset else STEPPING
    elif event == "step_off":
        side_step = onset
        gait_on = 1.0 - ramp(t, onset + 0.3, 0.3)
        activity = lambda s: OFF if s >= onset + 0.3 else STEPPING
    elif event == "rails":
        back = onset + 60.0
        side_step = onset
        gait_on = 1.0 - ramp(t, onset + 0.3, 0.3) + ramp(t, back, 0.3)
        activity = lambda s: RAILS if onset + 0.3 <= s < back else STEPPING
    elif event == "clip_off":
        clip_off = onset
    elif event == TURN_STANDING:
        gait_on = np.zeros(n)
        activity = lambda s: STOPPED
    elif event == TOO_FAST:  # balance worsens above the comfortable speed; after unsteady_s there, a fall
        above = belt > scenario.comfortable_kmh / 3.6
        onset = float(t[np.argmax(above)]) + scenario.unsteady_s if above.any() else math.inf
        falls = (Fall(onset, "backward", push_radps=0.6),) if math.isfinite(onset) else ()
        activity = lambda s: FALLEN if s >= onset else STEPPING
    elif event == END:  # the belt slows to a stop; the walker steps until it has all but stopped, then stands
        still_s = float(t[np.argmax((t >= onset) & (belt < 0.15))])
        gait_on = 1.0 - ramp(t, still_s, 0.5)
        activity = lambda s: STOPPED if s >= still_s else STEPPING
    if scenario.stand_s > 0.0:
        stand = scenario.stand_s
        if scenario.stand_on == "rails":  # on the rails beside the running belt, then a step onto it
            side_step = stand - 0.3
            gait_on = gait_on * ramp(t, stand, 0.3)
            activity = lambda s, then=activity: RAILS if s < stand else then(s)
        else:  # on the stopped belt: it starts, they start stepping a moment later
            gait_on = gait_on * ramp(t, stand + 0.3, 1.0)
            activity = lambda s, then=activity: STOPPED if s < stand + 0.3 else then(s)
    motion = synthesize(t, belt, np.clip(gait_on, 0, 1), backward=scenario.walking == "backward",
                        falls=falls, stumbles=stumbles, clip_off_s=clip_off, side_step_s=side_step,
                        turns_s=scenario.turns_s, rng=rng)
    shift, height = motion.fall_shift_m, motion.waist_height_m
    script = Script(belt_command_mps=command, activity=activity, stumble_s=stumble_s)
    if falls:
        script.fall_shift_m = lambda s: float(np.interp(s, t, shift))
        script.waist_height_m = lambda s: float(np.interp(s, t, height))
    samples = np.column_stack([t, motion.accel_mps2, motion.gyro_radps]).tolist()
    return Built(scenario, motion, script, samples, min((f.onset_s for f in falls), default=math.inf))


def scripted_imu(built: Built, clock: LoopClock) -> FakeImu:
    """The scenario's IMU samples on a fake IMU, with its sensor fault if it has one:
    three 50 ms bursts of I2C errors a second apart, or a freeze."""
    scenario = built.scenario
    imu = FakeImu(clock.now, built.samples)
    if scenario.event == "i2c_errors":
        for k in range(3):
            imu.fail_reads(scenario.onset_s + k, scenario.onset_s + k + 0.05)
    elif scenario.event == "imu_frozen":
        imu.freeze(scenario.onset_s)
    return imu


def _score(built: Built, system: str, world: World, trip_at_s: float | None, reason: str | None) -> Outcome:
    scenario = built.scenario
    reference = scenario.onset_s if scenario.event not in (NORMAL, START, END, TURN, TURN_STANDING) else 0.0
    if scenario.event == TOO_FAST:  # its event is the fall, when the walker has been too fast too long
        reference = built.fall_onset_s if math.isfinite(built.fall_onset_s) else 0.0
    margin = world.min_margin_m if math.isfinite(world.min_margin_m) \
        else world.treadmill.deck_length_m - world.position_m
    tripped = trip_at_s is not None
    safe = margin >= 0.0 if scenario.hazard else not tripped
    return Outcome(scenario.name, system, scenario.hazard, scenario.walking, tripped,
                   None if trip_at_s is None else trip_at_s - reference, margin, safe, reason)


def _end_time(world: World, scenario: Scenario) -> bool:
    """Stop early once the belt has been stopped for a while: nothing more can happen."""
    return world.is_loop_open and world.belt_mps == 0.0 and world.t_s > (world.loop_opened_s or 0) + AFTER_STOP_S


def run_treadguard(built: Built, treadmill: Treadmill = Treadmill(), config: Config | None = None, *,
                   clock: LoopClock | None = None,
                   on_tick: Callable[[Verdict, SafetyCore], None] | None = None,
                   on_daemon: Callable[[Daemon], None] | None = None) -> Outcome:
    """The real daemon on the simulated devices; on a simulated clock unless another
    is given (the live bench plays it in real time), with an optional extra tick hook
    and a hook that sees the daemon before it runs (the live bench installs its signals)."""
    scenario = built.scenario
    config = config or bench_config(scenario.walking, treadmill, scenario.range_sensor)
    clock = clock or SimulatedClock(0.0)
    world = World(treadmill, built.script)
    imu = scripted_imu(built, clock)
    belt = SimBeltSensor(world, clock.now)
    ranger = SimRangeSensor(world, clock.now)
    if scenario.event == "belt_lost":
        belt.is_lost_from_s = scenario.onset_s
    elif scenario.event == "range_lost":
        ranger.is_lost_from_s = scenario.onset_s
    relay = SimRelay(world, clock.now)
    ceiling_mps = config.belt.max_backward_mps if scenario.ceiling_mps is None else scenario.ceiling_mps
    core = SafetyCore(config, start_s=0.0, walking=scenario.walking, imu_mount=built.motion.imu_mount.tolist(),
                      has_belt=True, has_range=config.range.enabled, ceiling_mps=ceiling_mps)
    daemon = Daemon(core, Devices(imu=imu, relay=relay, belt=belt,
                                  range_sensor=ranger if config.range.enabled else None), clock)

    def walker_and_world(verdict: Verdict, core: SafetyCore) -> None:
        if not relay.has_armed and verdict.t_s >= ARM_AT_S and core.trip is None:
            core.request_reset()
        if on_tick is not None:
            on_tick(verdict, core)
        if _end_time(world, scenario):
            daemon.stop()

    daemon.on_tick = walker_and_world
    if on_daemon is not None:
        on_daemon(daemon)
    stats = daemon.run(until_s=scenario.duration_s)
    world.advance(clock.now())
    first = stats.first_trip
    return _score(built, "treadguard", world, None if first is None else first.t_s,
                  None if first is None else f"{first.trip.reason}/{first.trip.detail}")


def run_baseline(built: Built, system: str, treadmill: Treadmill = Treadmill()) -> Outcome:
    """The safety key (a tether at 70 % of the deck) or the 3 g / 3.1 rad/s threshold."""
    scenario = built.scenario
    world = World(treadmill, built.script)
    clock = SimulatedClock(0.0)
    imu = scripted_imu(built, clock)
    period = 1.0 / Config().loop.rate_hz
    trip_at = None
    accel_limit2 = THRESHOLD_ACCEL_MPS2 ** 2
    rate_limit2 = THRESHOLD_RATE_RADPS ** 2
    k = 0
    while k * period <= scenario.duration_s and not _end_time(world, scenario):
        now = k * period
        clock.sleep_until(now)
        world.advance(now)
        batch = imu.read()
        if trip_at is None:
            if system == "safety_key":
                fired = world.position_m >= KEY_PULL_FRACTION * treadmill.deck_length_m \
                    and world.script.activity(now) != OFF
            else:
                fired = any(s[1] ** 2 + s[2] ** 2 + s[3] ** 2 > accel_limit2
                            or s[4] ** 2 + s[5] ** 2 + s[6] ** 2 > rate_limit2 for s in batch.samples)
            if fired:
                trip_at = now
                world.open_loop()
        k += 1
    return _score(built, system, world, trip_at, None)


def run_scenario(scenario: Scenario, systems: tuple[str, ...] = SYSTEMS,
                 treadmill: Treadmill = Treadmill()) -> list[Outcome]:
    built = build(scenario, treadmill)
    return [run_treadguard(built, treadmill) if system == "treadguard" else run_baseline(built, system, treadmill)
            for system in systems]


def to_trace(scenario: Scenario, path: str, treadmill: Treadmill = Treadmill()) -> Trace:
    """The scenario as a trace file would hold it, open loop (no monitor stops the
    belt), with its ground truth in `label`."""
    built = build(scenario, treadmill)
    t = built.motion.t_s
    world = World(treadmill, built.script)
    belt_cells = np.full(len(t), np.nan)
    range_cells = np.full(len(t), np.nan)
    clock = SimulatedClock(0.0)
    belt = SimBeltSensor(world, clock.now)
    ranger = SimRangeSensor(world, clock.now)
    last_belt_s = -math.inf
    for i, ts in enumerate(t):
        clock.sleep_until(float(ts))
        reading = belt.read()  # read at every sample, so no pulse edge is missed...
        if reading is not None and ts - last_belt_s >= BELT_CELL_S:  # ...but written down as the loop would
            belt_cells[i] = round(reading.speed_mps, 4)
            last_belt_s = ts
        seen = ranger.read()
        if seen is not None:
            range_cells[i] = round(seen.distance_m, 4)
    label = {"event": scenario.event, "scenario": scenario.name, "hazard": scenario.hazard,
             "onset_s": scenario.onset_s if scenario.event != NORMAL else None}
    if math.isfinite(built.motion.impact_s):
        label["impact_s"] = round(built.motion.impact_s, 3)
    meta = {"source": f"treadguard bench simulator, scenario {scenario.name}: {scenario.summary}",
            "imu_mount": np.round(built.motion.imu_mount, 9).tolist(), "walking": scenario.walking,
            "rear_edge_m": treadmill.rear_edge_m, "label": label}
    if not scenario.range_sensor:  # fitted without one: the trace has no range column
        range_cells = None
        del meta["rear_edge_m"]
    return Trace(path, meta, np.round(t, 6), built.motion.accel_mps2, built.motion.gyro_radps,
                 np.ones(len(t), bool), belt_cells, range_cells)
