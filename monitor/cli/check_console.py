"""`treadguard check` at the console: the arm button pressed and let go by hand, the status light and the buzzer shown after the person says they are watching.

Each is opened on its own with the real driver class (drivers/console.py) on the
command's gpiozero pin factory, so a missing or busy pin is a problem of that
device alone. Nothing here arms anything: the button is only watched.
"""

from __future__ import annotations

from typing import Any, Callable

from monitor.cli.devices import STEP_S, Ask, CommandClock, DeviceUnavailable, GpioFactory, is_yes
from monitor.config.schema import Config

BUTTON_WATCH_S = 10.0  # how long the person has to press the button and let it go
COLOUR_S = 1.0  # each colour of the light is shown this long
BEEP_S = 0.3  # the buzzer's test beep
COLOURS = (("red", (1, 0, 0)), ("green", (0, 1, 0)), ("blue", (0, 0, 1)))


def open_console_device(make: Callable[..., Any], section: Any, gpio: GpioFactory) -> Any:
    """One console device from its driver's from_config, its errors said as DeviceUnavailable."""
    try:
        return make(section, pin_factory=gpio.get())
    except DeviceUnavailable:
        raise
    except Exception as err:  # gpiozero's pin errors: a pin in use, a pin the board does not have
        raise DeviceUnavailable(f"could not be opened: {type(err).__name__}: {err}: check that no other "
                                "program (the treadguard service?) holds the pin, and the [console] pins") from None


def check_button(button: Any, config: Config, clock: CommandClock, ask: Ask, report: Any, out: Any) -> None:
    """Not pressed while nobody touches it; then a press and a release by hand, both seen."""
    console = config.console
    pin, to = console.button_pin, ("GND" if console.button_pull_up else "3.3 V")
    report.found(f"opened on GPIO {pin} (pressed connects it to {to})")
    clock.sleep_until(clock.now() + STEP_S)  # the pull just set charges the cable's capacitance first
    if button.is_pressed:
        report.problem(f"the button reads pressed before anyone touched it: a latching switch, a short "
                       f"from GPIO {pin} to {to}, or console.button_pull_up the wrong way round; a stuck "
                       "button arms nothing, but fix it before relying on it")
        return
    ask(f"Press Enter, then press the arm button and let it go (within {BUTTON_WATCH_S:g} s): ")
    begin_s = clock.now()
    pressed_s = released_s = None
    k = 0
    while clock.now() - begin_s < BUTTON_WATCH_S and released_s is None:
        k += 1
        clock.sleep_until(begin_s + k * STEP_S)
        if button.is_pressed:
            pressed_s = clock.now() if pressed_s is None else pressed_s
        elif pressed_s is not None:
            released_s = clock.now()
    if pressed_s is None:
        report.problem(f"no press seen on GPIO {pin} in {BUTTON_WATCH_S:g} s: check the button's two wires "
                       f"(GPIO {pin}, header pin 29, and {to}), console.button_pin and console.button_pull_up")
    elif released_s is None:
        report.problem(f"the press was seen {pressed_s - begin_s:.1f} s in but no release within "
                       f"{BUTTON_WATCH_S:g} s: a button that stays pressed by itself (latching) cannot arm; "
                       "use a momentary, normally-open button")
    else:
        report.found(f"pressed {pressed_s - begin_s:.1f} s in, released {released_s - pressed_s:.2f} s later")


def check_light(light: Any, config: Config, clock: CommandClock, ask: Ask, report: Any, out: Any) -> None:
    """Each colour (or the single LED) shown steady for COLOUR_S once the person is watching."""
    from drivers.console import LIGHT_OFF, LightPattern

    console = config.console
    pins = (f"GPIO {console.light_red_pin}, {console.light_green_pin}, {console.light_blue_pin}"
            if light.is_rgb else f"GPIO {console.light_green_pin}")
    report.found(f"opened on {pins} ({'an RGB LED' if light.is_rgb else 'a single LED'}, "
                 f"{'lit when high' if console.light_active_high else 'lit when low'})")
    ask("Look at the status light, then press Enter: ")
    shown = COLOURS if light.is_rgb else (("on", (0, 1, 0)),)
    try:
        for name, colour in shown:
            light.show(LightPattern(f"check {name}", colour, COLOUR_S))
            clock.sleep_until(clock.now() + COLOUR_S)
    finally:
        light.show(LIGHT_OFF)
    names = ", then ".join(name for name, _ in shown)
    seen = ask(f"Did the light show {names}, {COLOUR_S:g} s each? [y/n]: " if light.is_rgb
               else f"Did the light come on for {COLOUR_S:g} s? [y/n]: ")
    if not is_yes(seen):
        report.problem(f"the light was not seen as shown: check each colour's 330 Ohm resistor and wire ({pins}), "
                       "the LED's common lead (to GND for a common cathode), console.light_active_high "
                       "(false for a common-anode LED) and console.light")


def check_buzzer(buzzer: Any, config: Config, clock: CommandClock, ask: Ask, report: Any, out: Any) -> None:
    """One beep once the person is listening."""
    pin = config.console.buzzer_pin
    report.found(f"opened on GPIO {pin}")
    ask("Listen for the buzzer, then press Enter: ")
    try:
        buzzer.set_on(True)
        clock.sleep_until(clock.now() + BEEP_S)
    finally:
        buzzer.set_on(False)
    heard = ask(f"Did you hear one {BEEP_S:g} s beep? [y/n]: ")
    if not is_yes(heard):
        report.problem(f"the buzzer was not heard: check the wire from GPIO {pin} through 1 kOhm to the "
                       "transistor's base, the buzzer between 5 V and the collector (+ to 5 V), the emitter "
                       "to GND, that the buzzer is an active one (it sounds on DC), and console.buzzer_active_high")
