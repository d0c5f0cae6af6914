"""The treadmill and the walker's place on it, stepped in time, closed loop.

The belt follows its commanded speed within the motor's acceleration limit;
when the safety-key loop opens (the relay, the key, or a baseline) it runs down
at the stop deceleration and stays stopped. The walker's waist moves along the
deck: a walker who steps holds their place, one who stops (or lies on the belt)
is carried back at belt speed, one who stepped off is no longer carried.

The devices here are the daemon's devices for a simulated run: the belt-speed
sensor sees front-roller pulses, the range sensor sees the waist (or the wall
behind when the walker is not in its beam), and the relay opens the loop.
The belt sensor is the real pulse driver, fed each pulse edge at its true time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from gpiozero.pins.mock import MockFactory, MockPin, PinState

from drivers.interfaces import BeltReading, BeltSensor, RangeReading, RangeSensor, Relay
from monitor.config.schema import BeltConfig


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
    belt_listeners: list = field(default_factory=list)  # called (t_s, dt_s, travel_m, belt_mps) every step
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
        if belt > 0.0:
            for listener in self.belt_listeners:
                listener(self.t_s, dt, self.belt_travel_m, belt)
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


class _EdgeClockPin(MockPin):
    """A gpiozero mock pin whose edges are stamped with the simulated time of the
    edge (gpiozero's own MockPin stamps them with time.monotonic()), keeping no
    history of its states: a ten-minute jog is 70 000 edges."""

    def clear_states(self):
        self._last_change = self._factory.edge_clock()
        self.states = [PinState(0.0, self._state)]

    def _change_state(self, value):
        if self._state != value:
            self._state = value
            self._last_change = self._factory.edge_clock()
            return True
        return False


class SimBeltSensor(BeltSensor):
    """The real pulse driver (drivers.pulse_belt) on a gpiozero mock pin, fed the
    front roller's pulse edges at their true times: the world reports each step
    of belt travel, and every edge (a pulse is low for half its spacing) is
    driven on the pin at the moment the belt passes it. So the speed is measured
    exactly as on the treadmill, from the times between edges, whatever the
    loop's tick rate. The driver's settings are the default config's, with the
    treadmill's pulses per metre."""

    def __init__(self, world: World, clock: Callable[[], float], *, belt: BeltConfig = BeltConfig()) -> None:
        from drivers.pulse_belt import PulseBeltSensor

        self.world = world
        self.clock = clock
        self.is_lost_from_s = math.inf
        self._now_s = clock()
        factory = MockFactory(pin_class=_EdgeClockPin)
        factory.edge_clock = lambda: self._now_s
        self._half_spacing_m = 0.5 / world.treadmill.pulses_per_m
        self._next_edge = math.floor(world.belt_travel_m / self._half_spacing_m) + 1
        self.driver = PulseBeltSensor(belt.pin, lambda: self._now_s, pulses_per_m=world.treadmill.pulses_per_m,
                                      debounce_s=belt.debounce_s, stopped_s=belt.stopped_s,
                                      max_accel_mps2=belt.max_accel_mps2, pin_factory=factory)
        self._pin = self.driver._device.pin
        world.belt_listeners.append(self._travelled)

    def _travelled(self, t_s: float, dt_s: float, travel_m: float, belt_mps: float) -> None:
        """The belt moved from travel_m at belt_mps for dt_s from t_s: drive the edges it passed."""
        end_m = travel_m + belt_mps * dt_s
        while self._next_edge * self._half_spacing_m <= end_m:
            edge_m = self._next_edge * self._half_spacing_m
            self._now_s = t_s + (edge_m - travel_m) / belt_mps
            if self._next_edge % 2:
                self._pin.drive_low()  # the magnet (or mark) arrives: the sensor pulls the pin low
            else:
                self._pin.drive_high()
            self._next_edge += 1

    def read(self) -> BeltReading | None:
        now = self.clock()
        self.world.advance(now)
        if now >= self.is_lost_from_s:
            raise OSError("belt sensor lost")
        self._now_s = now
        return self.driver.read()

    def close(self) -> None:
        self.driver.close()


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
