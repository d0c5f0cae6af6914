"""`treadguard check` at the console, on gpiozero's MockFactory with the real driver classes: the
arm button seen pressed and let go by hand, the status light and the buzzer shown only once the
person is watching, and each fault said with what to check."""

from __future__ import annotations

import io

import pytest

from monitor.cli.check import run_check
from monitor.config.schema import Config
from tests.commands_support import Person, ScriptedClock
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050
from tests.support import with_settings

BUTTON, RED, GREEN, BLUE, BUZZER = 5, 16, 20, 21, 12


class Console:
    """The console on mock pins: a hand that presses the button at given seconds after the prompt."""

    def __init__(self) -> None:
        self.clock = ScriptedClock(5.0)
        self.bus = FakeMpu6050(self.clock)
        self.factory = clocked_factory(self.clock)
        self.button = self.factory.pin(BUTTON)
        self.presses: list[tuple[float, float | None]] = []  # (press at, release at), absolute times
        self.clock.hooks.append(self._hand)

    def press(self, after_s: float, for_s: float | None) -> None:
        """Called as the person answers the prompt: press `after_s` later, let go `for_s` after that."""
        t = self.clock.t_s + after_s
        self.presses.append((t, None if for_s is None else t + for_s))

    def _hand(self, now_s: float) -> None:
        is_down = any(t <= now_s and (up is None or now_s < up) for t, up in self.presses)
        self.button.drive_low() if is_down else self.button.drive_high()  # pressed: pulled to GND

    def levels(self, pin: int) -> list[bool]:
        return [bool(s.state) for s in self.factory.pin(pin).states]

    def check(self, person: Person, **console) -> tuple[int, str]:
        config = with_settings(Config(), belt={"enabled": False}, console=console)
        out = io.StringIO()
        code = run_check(config, ask=person, clock=self.clock, i2c_bus=self.bus, pin_factory=self.factory,
                         out=out)
        return code, out.getvalue()


def _person(console: Console, *, press=(0.5, 0.3), light="y", heard="y", before_light=None, before_beep=None):
    return Person(("IMU clip", ""), ("type yes", "no"),
                  ("press the arm button", "", (lambda: console.press(*press)) if press else None),
                  ("Look at the status light", "", before_light), ("Did the light show", light),
                  ("Did the light come on", light),
                  ("Listen for the buzzer", "", before_beep), ("Did you hear", heard))


ALL = {"button_enabled": True, "light": "rgb", "buzzer_enabled": True}


def test_check_sees_the_button_pressed_and_let_go_and_shows_the_light_and_the_buzzer_once_watched():
    console = Console()
    before = {}
    person = _person(console,
                     before_light=lambda: before.update(light=[console.levels(p) for p in (RED, GREEN, BLUE)]),
                     before_beep=lambda: before.update(beep=console.levels(BUZZER)))
    code, out = console.check(person, **ALL)
    assert code == 0, out
    assert "== arm button ([console] button_enabled = true)" in out
    assert "pressed 0.5 s in, released 0.30 s later" in out
    assert "== status light ([console] light = \"rgb\")" in out and "== buzzer" in out
    # nothing was lit or sounded before the person said they were watching (the prompt's answer)...
    assert all(True not in levels for levels in before["light"]) and True not in before["beep"]
    # ... then red, green and blue each came on once, and all went off again; one beep
    for pin in (RED, GREEN, BLUE):
        assert console.levels(pin) == [False, True, False], pin
    assert console.levels(BUZZER) == [False, True, False]
    assert "3 devices OK" not in out and "all 5 devices OK (1 not tested: relay)" in out


def test_a_single_led_is_shown_on_its_one_pin():
    console = Console()
    code, out = console.check(_person(console, press=None), light="single")
    assert code == 0, out
    assert console.levels(GREEN) == [False, True, False] and console.levels(RED) == [False]


def test_a_button_never_pressed_is_a_problem_that_names_the_pin():
    console = Console()
    code, out = console.check(_person(console, press=None), button_enabled=True)
    assert code == 1
    assert "PROBLEM: no press seen on GPIO 5 in 10 s" in out and "header pin 29" in out


def test_a_button_that_reads_pressed_before_anyone_touches_it_is_a_problem():
    console = Console()
    console.presses.append((0.0, None))  # shorted, or a latching switch left on
    console.button.drive_low()
    person = Person(("IMU clip", ""), ("type yes", "no"))  # never asked to press it
    code, out = console.check(person, button_enabled=True)
    assert code == 1 and "PROBLEM: the button reads pressed before anyone touched it" in out


def test_a_button_that_stays_pressed_is_a_problem():
    console = Console()
    code, out = console.check(_person(console, press=(0.5, None)), button_enabled=True)
    assert code == 1 and "no release within 10 s" in out and "momentary" in out


@pytest.mark.parametrize("held_s,is_seen", [(0.01, False), (0.05, True)])
def test_a_press_is_seen_when_it_lasts_a_poll_or_more(held_s, is_seen):
    # the button is read every 20 ms: a 10 ms touch between two reads is not a press, 50 ms is
    console = Console()
    code, out = console.check(_person(console, press=(0.505, held_s)), button_enabled=True)
    assert (code == 0) is is_seen, out


def test_a_light_not_seen_and_a_buzzer_not_heard_are_problems():
    console = Console()
    code, out = console.check(_person(console, press=None, light="n", heard="n"), light="rgb", buzzer_enabled=True)
    assert code == 1
    assert "PROBLEM: the light was not seen as shown" in out and "light_active_high" in out
    assert "PROBLEM: the buzzer was not heard" in out and "active one" in out
    assert "2 of 4 devices have a PROBLEM: relay" not in out and "status light, buzzer" in out


def test_a_console_pin_in_use_is_a_problem_of_that_device_alone():
    console = Console()
    from gpiozero import OutputDevice

    holder = OutputDevice(BUZZER, pin_factory=console.factory)  # another program holds GPIO 12
    code, out = console.check(_person(console, press=None), light="rgb", buzzer_enabled=True)
    assert code == 1 and "== buzzer" in out and "could not be opened" in out
    assert console.levels(GREEN) == [False, True, False]  # the light was still checked
    holder.close()
