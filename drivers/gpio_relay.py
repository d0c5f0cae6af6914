"""The safety-key relay on a GPIO pin, driven by level or through a charge pump, with an optional
force-guided monitoring contact.

Energized = contacts closed = the belt may run. Two drives (relay.drive):

* "level": the pin is held at the energizing level while energized.
* "charge_pump": every energize() call toggles the pin, and the circuit in
  wiring/ (a retriggerable monostable on each edge) keeps the relay energized
  only while the edges keep coming: the loop calls energize() on every healthy
  tick, so a stuck loop, a dead process, a frozen Pi, a pin stuck at either
  level or a cut wire drops the relay within 50 ms by itself (permission to run
  expires in hardware). release() and close() hold the pin low.

The pin is driven to its released level at construction (gpiozero's
initial_value=False; drivers.gpio_backend makes the lgpio factory claim the line
at that level, so an active-low relay never pulls in at start), by release(),
on every error path and on close(). After close() gpiozero leaves the pin
floating: the pull-down (active-high) or pull-up (active-low) on the relay
input then holds it released, as wiring/ shows.

The monitoring contact of a force-guided relay moves with the main contacts.
Wired between feedback_pin and GND (the pin's pull-up holds it high while the
contact is open), it shows what the contacts really did. A disagreement with
the commanded state that lasts longer than the relay's operate/release time
(feedback_settle_s) is a fault: a welded contact, a dead coil, a cut wire.
`is_feedback_ok` tells; this driver never decides what to do about it.
"""

from __future__ import annotations

from typing import Any, Callable

from drivers.interfaces import Relay

Clock = Callable[[], float]
LEVEL = "level"
CHARGE_PUMP = "charge_pump"
DRIVES = (LEVEL, CHARGE_PUMP)


class GpioRelay(Relay):
    """A relay module driven by one GPIO pin."""

    def __init__(self, pin: int, clock: Clock, *, active_high: bool = True, feedback_pin: int | None = None,
                 feedback_closed_when_energized: bool = False, feedback_settle_s: float = 0.05,
                 drive: str = LEVEL, pin_factory: Any) -> None:
        from gpiozero import InputDevice, OutputDevice

        if drive not in DRIVES:
            raise ValueError(f"drive must be one of {', '.join(DRIVES)}, not {drive!r}")
        if drive == CHARGE_PUMP and not active_high:
            raise ValueError("the charge-pump drive holds the pin low when released (the circuit's input "
                             "has a pull-down): it needs active_high = true")
        self.drive = drive
        self._clock = clock
        self._output = None
        self._feedback = None
        self._is_closed = False
        self._is_energized = False
        self._changed_s = clock()
        self.feedback_settle_s = feedback_settle_s
        self._feedback_closed_when_energized = feedback_closed_when_energized
        try:
            self._pull_to_released(pin_factory, pin, active_high)
            self._output = OutputDevice(pin, active_high=active_high, initial_value=False,
                                        pin_factory=pin_factory)
            if feedback_pin is not None and feedback_pin >= 0:
                self._feedback = InputDevice(feedback_pin, pull_up=True, pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _pull_to_released(pin_factory: Any, pin: int, active_high: bool) -> None:
        """Before the pin becomes an output, pull it (as an input) to the released level, so it
        already sits there when it is switched to output; a backend that switches to output
        before setting the level (gpiozero's generic output_with_state) then has nothing to
        blip. drivers.gpio_backend's lgpio pins claim the output at its level in one step too."""
        try:
            raw = pin_factory.pin(pin)
            raw.function = "input"
            raw.pull = "down" if active_high else "up"
        except Exception:  # a pin with a fixed pull, or none: the claim at the released level still holds
            pass

    @classmethod
    def from_config(cls, section: Any, clock: Clock, *, pin_factory: Any = None) -> "GpioRelay":
        if pin_factory is None:
            from drivers.gpio_backend import real_pin_factory
            pin_factory = real_pin_factory()
        return cls(section.pin, clock, active_high=section.active_high, feedback_pin=section.feedback_pin,
                   feedback_closed_when_energized=section.feedback_closed_when_energized,
                   feedback_settle_s=section.feedback_settle_s, drive=section.drive, pin_factory=pin_factory)

    def energize(self) -> None:
        if self._is_closed or self._output is None:
            raise OSError("the relay is closed")
        try:
            if self.drive == CHARGE_PUMP:
                self._output.toggle()  # one edge per healthy tick: the circuit holds while they come
            else:
                self._output.on()
        except Exception as err:
            self.release()
            raise OSError(f"the relay pin could not be driven ({type(err).__name__}: {err}); released") from None
        if not self._is_energized:
            self._is_energized = True
            self._changed_s = self._clock()

    def release(self) -> None:
        if self._is_energized:
            self._changed_s = self._clock()
        self._is_energized = False
        output = self._output
        if output is None:
            return
        try:
            output.off()
        except Exception:
            # The pin cannot be driven: let it go, so the pull resistor releases the relay.
            try:
                output.close()
            except Exception:
                pass
            self._output = None

    @property
    def is_energized(self) -> bool:
        return self._is_energized

    @property
    def has_feedback(self) -> bool:
        return self._feedback is not None

    @property
    def is_feedback_closed(self) -> bool | None:
        """True while the monitoring contact is closed (pin pulled low); None without one."""
        feedback = self._feedback
        return None if feedback is None else bool(feedback.is_active)

    @property
    def is_feedback_ok(self) -> bool:
        """False when the monitoring contact has disagreed with the command for longer than
        feedback_settle_s after the last change; True without a feedback contact."""
        closed = self.is_feedback_closed
        if closed is None:
            return True
        expected = self._is_energized if self._feedback_closed_when_energized else not self._is_energized
        if closed == expected:
            return True
        return self._clock() - self._changed_s < self.feedback_settle_s

    def close(self) -> None:
        self.release()
        self._is_closed = True
        for name in ("_output", "_feedback"):
            device = getattr(self, name, None)
            setattr(self, name, None)
            if device is not None:
                try:
                    device.close()
                except Exception:
                    pass
