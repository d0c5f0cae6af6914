"""The treadmill and the walker's place on it, stepped in time, closed loop.

The belt follows its commanded speed within the motor's acceleration limit;
when the safety-key loop opens (the relay, the key, or a baseline) it runs down
at the stop deceleration and stays stopped. The walker's waist moves along the
deck: a walker who steps holds their place, one who stops (or lies on the belt)
is carried back at belt speed, one who stepped off is no longer carried.

The devices here are the daemon's devices for a simulated run: the belt-speed
sensor sees front-roller pulses, the range sensor sees the waist (or the wall
behind when the walker is not in its beam), and the relay opens the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from drivers.interfaces import BeltReading, BeltSensor, RangeReading, RangeSensor, Relay


@dataclass(frozen=True)
class Treadmill:
    deck_length_m: float = 1.4  # running surface of a typical home treadmill
    sensor_to_front_m: float = 0.2  # range sensor at the console, ahead of the deck's front edge
    motor_accel_mps2: float = 0.5  # how fast the motor changes the belt speed when asked
    stop_decel_mps2: float = 1.0  # coast-down/braking when the safety-key loop opens
    pulses_per_m: float = 20.0  # front-roller pulses per metre of belt
    wall_m: float = 4.0  # what the range sensor sees past the walker
    beam_lowest_m: float = 0.7  # the range beam (at waist height, a 15 degree cone) misses a waist below this

    @property
    def rear_edge_m(self) -> float:
        return self.sensor_to_front_m + self.deck_length_m


# What the walker is doing, as the position model needs it.
STEPPING = "stepping"  # holds their place
STOPPED = "stopped"  # stands still on the belt: carried back
DRIFTING = "drifting"  # steps a little slower than the belt
FALLEN = "fallen"  # lies on the belt: carried back, out of the range sensor's beam
OFF = "off"  # stepped off to the side: not carried, not in the beam
RAILS = "rails"  # stands on the side rails: not carried, still in the beam


@dataclass
class Script:
    """The walker's story in time, as the world needs it."""

    belt_command_mps: Callable[[float], float]
    activity: Callable[[float], str]
    fall_shift_m: Callable[[float], float] = lambda t: 0.0  # toppling moves the waist
    waist_height_m: Callable[[float], float] = lambda t: 1.0  # a fall takes the waist out of the beam
    drift_mps: float = 0.08  # how much slower than the belt a drifting walker steps
    stumble_s: tuple[float, ...] = ()  # stumbles: a moment's lost ground


@dataclass
class World:
    treadmill: Treadmill
    script: Script
    start_position_m: float = 0.45  # waist, from the deck's front edge
    t_s: float = 0.0
    belt_mps: float = 0.0
    position_m: float = 0.45
    belt_travel_m: float = 0.0  # for the pulse sensor
    is_loop_open: bool = False
    loop_opened_s: float | None = None
    min_margin_m: float = math.inf  # smallest waist-to-rear-edge distance while the belt moved
    _own_m: float = 0.0  # where the walker holds themself, before fall shifts
    log: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.position_m = self._own_m = self.start_position_m
        self.belt_mps = self.script.belt_command_mps(self.t_s)

    def open_loop(self) -> None:
        """The safety-key loop opens: the treadmill's controller stops the belt."""
        if not self.is_loop_open:
            self.is_loop_open = True
            self.loop_opened_s = self.t_s

    def advance(self, t_s: float, max_step_s: float = 0.005) -> None:
        while self.t_s < t_s - 1e-12:
            dt = min(max_step_s, t_s - self.t_s)
            self._step(dt)

    def _step(self, dt: float) -> None:
        tm = self.treadmill
        if self.is_loop_open:
            self.belt_mps = max(0.0, self.belt_mps - tm.stop_decel_mps2 * dt)
        else:
            target = self.script.belt_command_mps(self.t_s)
            change = max(-tm.motor_accel_mps2 * dt, min(tm.motor_accel_mps2 * dt, target - self.belt_mps))
            self.belt_mps += change
        belt = self.belt_mps
        activity = self.script.activity(self.t_s)
        if activity in (STOPPED, FALLEN):
            self._own_m += belt * dt
        elif activity == DRIFTING:
            self._own_m += min(belt, self.script.drift_mps) * dt
        elif activity == STEPPING:
            lost = any(0.0 <= self.t_s - s < 0.4 for s in self.script.stumble_s)
            if lost:
                self._own_m += 0.6 * belt * dt  # a stumble costs ground for a moment
            else:  # walkers drift back to where they like to be, at up to 0.3 m/s
                self._own_m += max(-0.3, min(0.3, -(self._own_m - self.start_position_m))) * dt
        self.belt_travel_m += belt * dt
        self.t_s += dt
        self.position_m = self._own_m + self.script.fall_shift_m(self.t_s)
        if belt > 0.0 and activity not in (OFF,):
            self.min_margin_m = min(self.min_margin_m, tm.deck_length_m - self.position_m)

    @property
    def is_in_beam(self) -> bool:
        if self.script.activity(self.t_s) == OFF:
            return False
        return self.script.waist_height_m(self.t_s) >= self.treadmill.beam_lowest_m

    def range_m(self) -> float:
        tm = self.treadmill
        if not self.is_in_beam or self.position_m > tm.deck_length_m:
            return tm.wall_m
        return tm.sensor_to_front_m + self.position_m


class SimBeltSensor(BeltSensor):
    """Speed from the interval between front-roller pulses, as the pulse driver
    measures it; a belt with no pulse for timeout_s reads 0 m/s."""

    def __init__(self, world: World, clock: Callable[[], float], *, timeout_s: float = 0.25) -> None:
        self.world = world
        self.clock = clock
        self.timeout_s = timeout_s
        self._pulses = 0
        self._last_pulse_s: float | None = None
        self._interval_s: float | None = None
        self._last_report_s = -math.inf
        self.is_lost_from_s = math.inf

    def read(self) -> BeltReading | None:
        now = self.clock()
        self.world.advance(now)
        if now >= self.is_lost_from_s:
            raise OSError("belt sensor lost")
        pulses = int(self.world.belt_travel_m * self.world.treadmill.pulses_per_m)
        if pulses > self._pulses:
            count = pulses - self._pulses
            if self._last_pulse_s is not None:
                self._interval_s = (now - self._last_pulse_s) / count
            self._pulses = pulses
            self._last_pulse_s = now
        if self._last_pulse_s is None or now - self._last_pulse_s > self.timeout_s:
            if now - self._last_report_s >= 0.1:
                self._last_report_s = now
                return BeltReading(now, 0.0)
            return None
        if self._interval_s is None or now - self._last_report_s < 0.05:
            return None
        self._last_report_s = now
        return BeltReading(now, 1.0 / (self.world.treadmill.pulses_per_m * self._interval_s))


class SimRangeSensor(RangeSensor):
    """An ultrasonic ranger at the console: a reading every 50 ms, ±1 cm."""

    def __init__(self, world: World, clock: Callable[[], float], *, period_s: float = 0.05) -> None:
        self.world = world
        self.clock = clock
        self.period_s = period_s
        self._next_s = -math.inf
        self.is_lost_from_s = math.inf
        self._k = 0

    def read(self) -> RangeReading | None:
        now = self.clock()
        self.world.advance(now)
        if now < self._next_s or now >= self.is_lost_from_s:
            return None
        self._next_s = now + self.period_s
        self._k += 1
        wobble = 0.01 * math.sin(self._k * 2.3)  # deterministic ±1 cm
        return RangeReading(now, self.world.range_m() + wobble)


class SimRelay(Relay):
    """The relay in the safety-key loop: releasing it stops the simulated belt.

    Before the monitor first arms, the belt is assumed running under the safety
    key alone; once armed, a release opens the loop for good (trips latch)."""

    def __init__(self, world: World, clock: Callable[[], float]) -> None:
        self.world = world
        self.clock = clock
        self._is_energized = False
        self.has_armed = False

    def energize(self) -> None:
        self._is_energized = True
        self.has_armed = True

    def release(self) -> None:
        if self._is_energized:
            self.world.advance(self.clock())
            self.world.open_loop()
        self._is_energized = False

    @property
    def is_energized(self) -> bool:
        return self._is_energized
