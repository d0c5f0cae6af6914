"""The person's side of the console: the arm button, the status light and the buzzer, beside the loop.

Console.on_tick runs in the loop's tick hook and does only quick things: it
reads the button's level, moves the button's state machine
(monitor.safety.arm_button), asks the core to arm (`request_reset()`, judged at
the next tick by the latch, which refuses while any check fails), and works out
which light pattern and which sound the state calls for. Only a *change* is
offered to a Sideline, whose thread sets the light and the buzzer (which then
blink in gpiozero's own thread) and writes the messages. The loop never waits
on a device, and nothing here can energize the relay: the verdict is the core's.

The drift pre-warning is a side output too: the rear margin the core judges is
turned into a beep rate that rises as the walker drifts into the warning zone;
the trip at min_rear_margin_m is decided by the core, exactly as without it.
"""

from __future__ import annotations

import collections
import enum
import math
import sys
from typing import Any, Callable

from drivers.console import SILENT, ArmButton, ConsoleBuzzer, LightPattern, Sound, StatusLight
from monitor.safety.arm_button import Button, ButtonEvent, ButtonState, step
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict
from monitor.service.outputs.sideline import Sideline

STARTING_S = 2.0  # the light shows "starting" this long after the loop's first tick (sensors settle)


class LightState(enum.Enum):
    STARTING = "starting"  # just started: the sensors are settling
    READY = "ready"  # not armed, every check passes: hold the button to arm
    ARMED = "armed"  # the belt may run
    TRIPPED = "tripped"  # a trip (or a refused arm) is latched: the belt is stopped
    FAULT = "fault"  # not armed and a check fails (or the button is stuck): arming would be refused


RED, GREEN, BLUE, YELLOW = (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0)
# Every state differs by its rhythm alone (red and green look alike to about one man in twelve),
# and by its colour on an RGB LED. Steady means the belt may run (armed) or may be armed (ready).
RGB_PATTERNS = {
    LightState.STARTING: LightPattern("starting: short blue flashes", BLUE, 0.1, 0.9),
    LightState.READY: LightPattern("ready: steady blue", BLUE, 1.0),
    LightState.ARMED: LightPattern("armed: steady green", GREEN, 1.0),
    LightState.TRIPPED: LightPattern("tripped: fast red blink", RED, 0.2, 0.2),
    LightState.FAULT: LightPattern("fault: slow yellow blink", YELLOW, 0.6, 0.6),
}
SINGLE_PATTERNS = {
    LightState.STARTING: LightPattern("starting: short flashes", GREEN, 0.1, 0.9),
    LightState.READY: LightPattern("ready: long on, short off", GREEN, 1.7, 0.3),
    LightState.ARMED: LightPattern("armed: steady", GREEN, 1.0),
    LightState.TRIPPED: LightPattern("tripped: fast blink", GREEN, 0.2, 0.2),
    LightState.FAULT: LightPattern("fault: slow blink", GREEN, 0.6, 0.6),
}

# An active buzzer has one pitch: the sounds differ by rhythm.
ARMED_SOUND = Sound("armed", 0.1, 0.0, 1)  # one short beep: done
REFUSED_SOUND = Sound("refused", 0.1, 0.1, 3)  # three quick beeps: no
TRIP_SOUND = Sound("trip", 1.2, 0.0, 1)  # one long tone: the belt was stopped
WARNING_ON_S = 0.05
WARNING_OFF_S = (0.75, 0.45, 0.25, 0.12)  # levels 1..4: faster the deeper into the zone
WARNING_SOUNDS = tuple(Sound(f"drift warning {k + 1}/{len(WARNING_OFF_S)}", WARNING_ON_S, off_s, 0)
                       for k, off_s in enumerate(WARNING_OFF_S))
# Above the backward ceiling: long, even beeps, unlike the drift warning's quick ticks: slow the belt.
CEILING_WARNING_SOUND = Sound("backward ceiling warning: slow the belt", 0.3, 0.3, 0)
DIRECTION_SOUND = Sound("direction changed", 0.08, 0.12, 2)  # two short beeps: the monitor followed a turn
# and the light flickers white (a single LED: flickers) for DIRECTION_FLASH_S, then shows its state again
DIRECTION_LIGHT = LightPattern("direction changed: quick white flicker", (1, 1, 1), 0.1, 0.1)
DIRECTION_FLASH_S = 1.0
WARNING_HYSTERESIS_M = 0.02  # a level falls back only this far past its edge: range noise does not flicker it


def light_state(verdict: Verdict, *, is_starting: bool, is_button_stuck: bool) -> LightState:
    """What the light shows for this verdict."""
    if verdict.state is LatchState.ARMED:
        return LightState.ARMED
    if verdict.state is LatchState.TRIPPED:
        return LightState.TRIPPED
    if is_starting:
        return LightState.STARTING
    if verdict.problems or is_button_stuck:
        return LightState.FAULT
    return LightState.READY


def warning_level(margin_m: float | None, *, min_margin_m: float, zone_m: float, previous: int = 0,
                  levels: int = len(WARNING_OFF_S), hysteresis_m: float = WARNING_HYSTERESIS_M) -> int:
    """0 outside the warning zone, 1..levels deeper in (levels at and past the trip margin).
    A level rises at once; it falls only once the walker is hysteresis_m back out of it."""
    if margin_m is None or zone_m <= 0 or not math.isfinite(margin_m):
        return 0
    step_m = zone_m / levels
    depth_m = min_margin_m + zone_m - margin_m  # how far into the zone the walker is
    level = 0 if depth_m <= 0 else min(levels, 1 + int(depth_m // step_m))
    if 0 < level < previous or (level == 0 and previous > 0):
        edge_m = (previous - 1) * step_m  # the depth where the previous level began
        if depth_m > edge_m - hysteresis_m:
            return previous
    return level


class BuzzerPlan:
    """Which sound to start, if any: a counted sound (armed, refused, trip) plays to its end,
    then the repeating one (the warning, or silence) takes over again."""

    def __init__(self) -> None:
        self.current: Sound = SILENT
        self.busy_until_s = -math.inf

    def update(self, now_s: float, *, event: Sound | None, repeating: Sound) -> Sound | None:
        if event is not None:
            self.current = event
            self.busy_until_s = now_s + event.duration_s
            return event
        if now_s < self.busy_until_s or repeating == self.current:
            return None
        if repeating == SILENT and self.current.count:  # a counted sound ended by itself: already quiet
            self.current = SILENT
            return None
        self.current = repeating
        return repeating


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Console:
    """The arm button, the status light and the buzzer, run from the loop's tick hook."""

    def __init__(self, config: Any, *, button: ArmButton | None = None, light: StatusLight | None = None,
                 buzzer: ConsoleBuzzer | None = None, clock: Callable[[], float] | None = None,
                 core: SafetyCore | None = None, say: Callable[[str], None] = _say,
                 threaded: bool = True) -> None:
        console = config.console
        self.hold_s = console.button_hold_s
        self.stuck_s = console.button_stuck_s
        rng = config.range
        self.min_margin_m = rng.min_rear_margin_m
        self.zone_m = rng.warning_zone_m if rng.enabled else 0.0
        self.button = button
        self.light = light
        self.buzzer = buzzer
        self.clock = clock
        self.say = say
        self.patterns = RGB_PATTERNS if light is not None and light.is_rgb else SINGLE_PATTERNS
        self.button_state = Button()
        self.light_state = LightState.STARTING
        self.warning = 0
        self.refused: str | None = None  # why the last arm was refused (or the button is stuck)
        self.armings = 0
        self.refusals = 0
        self._plan = BuzzerPlan()
        self.history: collections.deque[tuple[float, str, Any]] = collections.deque(maxlen=64)  # what was set
        self._core = core
        self._pending_s: float | None = None  # a request made at this time awaits the core's verdict
        self._first_t_s: float | None = None
        self._wanted_light: LightPattern | None = None
        self._wanted_sound: Sound | None = None
        self._last_change: Any = None  # the last direction change announced
        self._flash_until_s: float | None = None  # the light shows a direction change until then
        self.is_ceiling_warning = False
        self.worker = Sideline(self._apply, maxsize=32, name="console", threaded=threaded)
        self._offer_light(self.patterns[LightState.STARTING], None)

    # -- from the loop ------------------------------------------------------------------------
    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        self._core = core
        now_s = verdict.t_s
        if self._first_t_s is None:
            self._first_t_s = now_s
        event: Sound | None = None
        if self._pending_s is not None and now_s > self._pending_s:
            event = self._judged(verdict)
        elif verdict.is_new_trip:
            event = TRIP_SOUND
        if self.button is not None:
            event = self._button_tick(verdict, core, now_s) or event
        is_stuck = self.button_state.state is ButtonState.STUCK
        state = light_state(verdict, is_starting=now_s - self._first_t_s < STARTING_S, is_button_stuck=is_stuck)
        direction_event = self._direction_tick(core)
        if direction_event is not None and self.light is not None:
            self._flash_until_s = now_s + DIRECTION_FLASH_S
            self._offer_light(DIRECTION_LIGHT, now_s)
        elif self._flash_until_s is not None and now_s < self._flash_until_s and state is self.light_state:
            if self._wanted_light is not None:  # the flash's offer was dropped: offer it again
                self._offer_light(self._wanted_light, now_s)
        elif self._flash_until_s is not None or state is not self.light_state or self._wanted_light is not None:
            self._flash_until_s = None  # the flash is over, or a new state (a trip) cuts it short
            self.light_state = state
            self._offer_light(self.patterns[state], now_s)
        margin_m = core.range_drift.margin_m if core.has_range else None
        self.warning = warning_level(margin_m, min_margin_m=self.min_margin_m, zone_m=self.zone_m,
                                     previous=self.warning) if verdict.state is LatchState.ARMED else 0
        self.is_ceiling_warning = (verdict.state is LatchState.ARMED and core.is_ceiling_on
                                   and core.ceiling.is_over)
        repeating = (WARNING_SOUNDS[self.warning - 1] if self.warning  # the drift is the more urgent
                     else CEILING_WARNING_SOUND if self.is_ceiling_warning else SILENT)
        event = direction_event or event
        if self.buzzer is not None:
            sound = self._plan.update(now_s, event=event, repeating=repeating) or self._wanted_sound
            if sound is not None:
                self._wanted_sound = None if self.worker.offer(("sound", sound)) else sound
                self.history.append((now_s, "sound", sound))

    def _direction_tick(self, core: SafetyCore) -> Sound | None:
        """A change of the walker's direction is confirmed by two short beeps (the journal line is
        monitor.service.outputs.direction_journal's)."""
        changes = core.direction.changes
        if not changes or changes[-1] is self._last_change:
            return None
        self._last_change = changes[-1]
        return DIRECTION_SOUND

    def _judged(self, verdict: Verdict) -> Sound:
        """The core judged the request made at _pending_s in this tick."""
        self._pending_s = None
        if verdict.state is LatchState.ARMED:
            self.armings += 1
            self.refused = None
            self.worker.offer(("say", "treadguard: armed at the console's request; the belt may run"))
            return ARMED_SOUND
        self.refusals += 1
        why = ", ".join(p.describe() for p in verdict.problems) or "a check failed"
        self.refused = why
        self.worker.offer(("say", f"treadguard: arming refused: {why}; fix that, then hold the arm button again"))
        return REFUSED_SOUND

    def _button_tick(self, verdict: Verdict, core: SafetyCore, now_s: float) -> Sound | None:
        try:
            is_pressed = self.button.is_pressed  # a GPIO level read: no waiting
        except Exception:  # cannot be read: not pressed (nothing is asked)
            is_pressed = False
        self.button_state, happened = step(self.button_state, is_pressed, now_s, hold_s=self.hold_s,
                                           stuck_s=self.stuck_s)
        if happened is ButtonEvent.ARM:
            if verdict.state is LatchState.ARMED or self._pending_s is not None:
                return None  # already armed, or already asked: nothing to do
            core.request_reset()
            self._pending_s = now_s
            return None
        if happened is ButtonEvent.STUCK:
            self.refusals += 1
            self.refused = (f"the arm button is stuck (pressed for more than {self.stuck_s:g} s, or since "
                            f"the start): release it; check its wiring if it is not pressed")
            self.worker.offer(("say", f"treadguard: {self.refused}; it arms nothing until released"))
            return REFUSED_SOUND
        if happened is ButtonEvent.FREED:
            self.refused = None
            self.worker.offer(("say", "treadguard: the arm button was released; hold it 1 s to arm"))
        return None

    # -- a local administrator's SIGUSR1 ------------------------------------------------------
    def remote_arm(self) -> None:
        """Ask to arm as the button does (same sounds, same refusal); from a signal handler."""
        core = self._core
        if core is None:
            return
        core.request_reset()
        if self.clock is not None:
            self._pending_s = self.clock()  # judged at the first tick after this time

    # -- for the status socket ----------------------------------------------------------------
    def status(self) -> dict:
        # what the console has decided (the worker thread applies it within moments)
        light = self.patterns[self.light_state].name if self.light is not None else None
        sound = self._plan.current.name if self.buzzer is not None else None
        return {"console": {
            "button": self.button_state.state.value if self.button is not None else None,
            "light": self.light_state.value if self.light is not None else None,
            "light_pattern": light, "sound": sound, "warning_level": self.warning,
            "refused": self.refused, "armings": self.armings, "refusals": self.refusals}}

    # -- the worker's side --------------------------------------------------------------------
    def _offer_light(self, pattern: LightPattern, now_s: float | None) -> None:
        if self.light is None:
            return
        self.history.append((now_s, "light", pattern))
        # a dropped offer is tried again next tick, so the light never keeps showing a stale state
        self._wanted_light = None if self.worker.offer(("light", pattern)) else pattern

    def _apply(self, item: tuple[str, Any]) -> None:
        kind, value = item
        if kind == "light" and self.light is not None:
            self.light.show(value)
        elif kind == "sound" and self.buzzer is not None:
            self.buzzer.play(value)
        elif kind == "say":
            self.say(value)

    def close(self) -> None:
        """Finish what is queued, then the devices: light and buzzer off, pins given back."""
        self.worker.close()
        for device in (self.buzzer, self.light, self.button):
            if device is not None:
                try:
                    device.close()
                except Exception:
                    pass


def open_console(config: Any, *, pin_factory: Any, clock: Callable[[], float] | None = None,
                 core: SafetyCore | None = None, say: Callable[[str], None] = _say,
                 threaded: bool = True) -> Console | None:
    """The console devices the config names, on this pin factory; None when none is fitted.
    Raises what gpiozero raises for a pin that cannot be opened (after closing what was opened)."""
    section = config.console
    if not (section.button_enabled or section.light != "none" or section.buzzer_enabled):
        return None
    opened: list[Any] = []
    try:
        button = ArmButton.from_config(section, pin_factory=pin_factory) if section.button_enabled else None
        opened.append(button)
        light = StatusLight.from_config(section, pin_factory=pin_factory) if section.light != "none" else None
        opened.append(light)
        buzzer = ConsoleBuzzer.from_config(section, pin_factory=pin_factory) if section.buzzer_enabled else None
    except BaseException:
        for device in opened:
            if device is not None:
                device.close()
        raise
    return Console(config, button=button, light=light, buzzer=buzzer, clock=clock, core=core, say=say,
                   threaded=threaded)



def bench_console(config: Any) -> Console:
    """The console on gpiozero's mock pins, for `run --bench`: the status light and the buzzer
    (with the drift pre-warning) follow the bench run, and `treadguard status` shows them."""
    import dataclasses

    from gpiozero.pins.mock import MockFactory

    bench = dataclasses.replace(config, console=dataclasses.replace(config.console, button_enabled=False,
                                                                    light="rgb", buzzer_enabled=True))
    console = open_console(bench, pin_factory=MockFactory(), say=lambda line: None)
    assert console is not None
    return console
