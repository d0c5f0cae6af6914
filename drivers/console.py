"""The devices at the console, on gpiozero: the arm button, the status light, the buzzer.

Thin and honest: each reports or does exactly what it is told, and knows
nothing about arming or trips (monitor.service.outputs.console decides). The light and
the buzzer blink in gpiozero's own background thread (`blink(background=True)`),
so whoever sets a pattern never waits for it to play; each remembers the
pattern it was last given (`pattern`), which is what the status shows. Every
class takes its gpiozero pin factory (MockFactory in tests and on the bench),
and close() is safe twice and on a half-built object.

Why gpiozero's Button, LED, RGBLED and Buzzer rather than raw pins: they are the
well-kept classes the rest of treadguard already uses, with pull-ups, active
levels and background blinking done right, and they run unchanged on MockFactory.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class LightPattern(NamedTuple):
    """A colour (red, green, blue, each 0 or 1), on for on_s then off for off_s, repeated;
    off_s = 0 is steady. A single-colour light shows any colour but black as on."""

    name: str
    color: tuple[int, int, int]
    on_s: float
    off_s: float = 0.0


class Sound(NamedTuple):
    """Beeps of on_s with off_s between them, `count` times (0: until told otherwise)."""

    name: str
    on_s: float = 0.0
    off_s: float = 0.0
    count: int = 1

    @property
    def duration_s(self) -> float:
        """How long a counted sound plays (0 for silence; infinite for a repeating one)."""
        if self.on_s <= 0:
            return 0.0
        if self.count == 0:
            return float("inf")
        return self.count * self.on_s + (self.count - 1) * self.off_s


LIGHT_OFF = LightPattern("off", (0, 0, 0), 0.0)
SILENT = Sound("silent")


def _close(device: Any) -> None:
    if device is not None:
        try:
            device.close()
        except Exception:  # closing is best effort
            pass


class ArmButton:
    """The momentary arm button: by default between the pin and GND, held high by the pin's pull-up."""

    def __init__(self, pin: int, *, pull_up: bool = True, pin_factory: Any) -> None:
        from gpiozero import Button

        self._button = None
        # No bounce_time: the level is polled once a tick and the hold logic needs a steady
        # press for a whole second, which contact bounce cannot fake.
        self._button = Button(pin, pull_up=pull_up, pin_factory=pin_factory)

    @classmethod
    def from_config(cls, section: Any, *, pin_factory: Any) -> "ArmButton":
        return cls(section.button_pin, pull_up=section.button_pull_up, pin_factory=pin_factory)

    @property
    def is_pressed(self) -> bool:
        button = self._button
        if button is None:
            raise OSError("the arm button is closed")
        return bool(button.is_pressed)

    def close(self) -> None:
        button, self._button = self._button, None
        _close(button)


class StatusLight:
    """An RGB LED (three pins) or a single LED (one pin) showing one pattern at a time."""

    def __init__(self, *, red_pin: int | None = None, green_pin: int, blue_pin: int | None = None,
                 active_high: bool = True, pin_factory: Any) -> None:
        from gpiozero import LED, RGBLED

        self._led: Any = None
        self.is_rgb = red_pin is not None and blue_pin is not None
        self.pattern = LIGHT_OFF
        if self.is_rgb:
            # pwm=False: plain on/off colours need no PWM (no software-PWM thread per pin)
            self._led = RGBLED(red_pin, green_pin, blue_pin, active_high=active_high, pwm=False,
                               pin_factory=pin_factory)
        else:
            self._led = LED(green_pin, active_high=active_high, pin_factory=pin_factory)

    @classmethod
    def from_config(cls, section: Any, *, pin_factory: Any) -> "StatusLight":
        if section.light == "rgb":
            return cls(red_pin=section.light_red_pin, green_pin=section.light_green_pin,
                       blue_pin=section.light_blue_pin, active_high=section.light_active_high,
                       pin_factory=pin_factory)
        return cls(green_pin=section.light_green_pin, active_high=section.light_active_high,
                   pin_factory=pin_factory)

    def show(self, pattern: LightPattern) -> None:
        """Steady or blinking (in gpiozero's thread); returns at once."""
        led = self._led
        if led is None:
            raise OSError("the status light is closed")
        is_dark = pattern.color == (0, 0, 0) or pattern.on_s <= 0
        if self.is_rgb:
            if is_dark:
                led.off()
            elif pattern.off_s <= 0:
                led.color = pattern.color
            else:
                led.blink(on_time=pattern.on_s, off_time=pattern.off_s, on_color=pattern.color)
        elif is_dark:
            led.off()
        elif pattern.off_s <= 0:
            led.on()
        else:
            led.blink(on_time=pattern.on_s, off_time=pattern.off_s)
        self.pattern = pattern

    def close(self) -> None:
        led, self._led = self._led, None
        if led is not None:
            try:
                led.off()
            except Exception:
                pass
        _close(led)


class ConsoleBuzzer:
    """An active buzzer (it sounds while its pin is on), through a transistor."""

    def __init__(self, pin: int, *, active_high: bool = True, pin_factory: Any) -> None:
        from gpiozero import Buzzer

        self._buzzer: Any = None
        self.sound = SILENT
        self._buzzer = Buzzer(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)

    @classmethod
    def from_config(cls, section: Any, *, pin_factory: Any) -> "ConsoleBuzzer":
        return cls(section.buzzer_pin, active_high=section.buzzer_active_high, pin_factory=pin_factory)

    def play(self, sound: Sound) -> None:
        """Start a sound (in gpiozero's thread), cutting off the one playing; returns at once."""
        buzzer = self._buzzer
        if buzzer is None:
            raise OSError("the buzzer is closed")
        if sound.on_s <= 0:
            buzzer.off()
        else:
            buzzer.beep(on_time=sound.on_s, off_time=sound.off_s, n=sound.count or None)
        self.sound = sound

    def set_on(self, is_on: bool) -> None:
        """Sound steadily or stop, at once and in this thread (`treadguard check` times the beep
        on its own clock, so no background thread is left playing)."""
        buzzer = self._buzzer
        if buzzer is None:
            raise OSError("the buzzer is closed")
        buzzer.on() if is_on else buzzer.off()
        self.sound = Sound("steady", on_s=float("inf"), count=0) if is_on else SILENT

    def close(self) -> None:
        buzzer, self._buzzer = self._buzzer, None
        if buzzer is not None:
            try:
                buzzer.off()
            except Exception:
                pass
        _close(buzzer)
