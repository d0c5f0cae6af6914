"""`treadguard check` on a fake bus and mock pins: a verdict per device, what to fix,
a relay that clicks only after the person confirms, and a missing device found."""

from __future__ import annotations

import io
import math

import pytest

from drivers.hcsr04 import HcSr04
from monitor.cli.check import run_check
from monitor.cli.main import main
from monitor.config.load import load_config
from monitor.config.schema import Config
from tests.commands_support import Person, ScriptedClock, TurningBelt
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050, G, standing_motion
from tests.support import with_settings

RELAY_PIN, FEEDBACK_PIN, BELT_PIN = 17, 22, 27


class Bench:
    """A fake bus and mock pins on a scripted clock, the belt turnable, range echoes playable."""

    def __init__(self, monkeypatch, *, address=0x68, motion=standing_motion, feedback="follows") -> None:
        self.clock = ScriptedClock(5.0)
        self.bus = FakeMpu6050(self.clock, address=address, motion=motion)
        self.factory = clocked_factory(self.clock)
        self.belt = TurningBelt(self.factory.pin(BELT_PIN), self.clock, pulses_per_s=20.0)
        self.relay_pin = self.factory.pin(RELAY_PIN)
        self.feedback_pin = self.factory.pin(FEEDBACK_PIN)
        self.feedback = feedback
        self.echo_fraction: float | None = None
        self.range_sensors: list[HcSr04] = []
        original = HcSr04.__init__

        def remember(sensor, *args, **kwargs):
            original(sensor, *args, **kwargs)
            self.range_sensors.append(sensor)

        monkeypatch.setattr(HcSr04, "__init__", remember)
        self.clock.hooks.append(self._hardware)

    def _hardware(self, now_s: float) -> None:
        # a force-guided relay's normally-closed monitoring contact: closed (low) while released
        if self.feedback == "follows":
            self.feedback_pin.drive_high() if self.relay_pin.state else self.feedback_pin.drive_low()
        elif self.feedback == "welded":
            self.feedback_pin.drive_high()  # the main contacts never open: the monitoring contact stays open
        if self.echo_fraction is not None and self.range_sensors:
            self.range_sensors[-1]._on_reading(self.echo_fraction)  # what a completed ping reports

    def check(self, config: Config, person: Person) -> tuple[int, str]:
        out = io.StringIO()
        code = run_check(config, ask=person, clock=self.clock, i2c_bus=self.bus, pin_factory=self.factory,
                         out=out)
        return code, out.getvalue()


def _everything() -> Config:
    return with_settings(Config(), range={"enabled": True}, relay={"feedback_pin": FEEDBACK_PIN})


def test_every_device_found_and_tested_is_ok(monkeypatch):
    bench = Bench(monkeypatch)
    relay_high_before_yes = []
    person = Person(("IMU clip", ""),
                    ("moving the belt", "", bench.belt.start),
                    ("stand on the belt", "", lambda: setattr(bench, "echo_fraction", 0.25)),
                    ("type yes", "yes", lambda: relay_high_before_yes.append(
                        any(s.state for s in bench.relay_pin.states))),
                    ("click", "y"))
    code, out = bench.check(_everything(), person)
    assert code == 0, out
    assert "found: MPU-6050 (or MPU-6000) (WHO_AM_I 0x68) at I2C address 0x68" in out
    assert "gravity at rest: 9.79 m/s² over 1.0 s (-0.2 % from 9.81" in out
    assert "sample rate delivered: 200.0 Hz (200 samples" in out
    assert "59 pulses in 3 s: 9.22 m of belt, 3.07 m/s on average at belt.pulses_per_m = 6.4" in out
    assert "median 0.75 m" in out
    assert "released: monitoring contact closed" in out and "energized: monitoring contact open" in out
    assert out.count("   OK") == 4 and "all 4 devices OK" in out
    assert relay_high_before_yes == [False]  # never energized before the person confirmed
    assert [s.state for s in bench.relay_pin.states][-3:] == [False, True, False]
    assert not bench.relay_pin.state and bench.bus.is_closed


def test_a_missing_imu_and_a_silent_belt_are_problems_and_the_rest_is_still_checked(monkeypatch, capsys):
    bench = Bench(monkeypatch, address=0x69)  # the board's AD0 is high; the config says 0x68
    person = Person(("moving the belt", ""), ("type yes", "yes"), ("click", "y"))
    code, out = bench.check(Config(), person)
    assert code == 1
    assert "PROBLEM: no MPU-6050-family IMU answers at I2C address 0x68" in out and "0x69 with AD0 high" in out
    assert "PROBLEM: no pulses from GPIO 27 while the belt moved" in out
    assert "2 of 3 devices have a PROBLEM: IMU, belt sensor" in out
    assert out.rstrip().endswith("IMU, belt sensor") and "   OK" in out  # the relay was still checked
    assert "Traceback" not in out + capsys.readouterr().err


def test_the_relay_is_not_clicked_without_a_yes(monkeypatch):
    bench = Bench(monkeypatch)
    person = Person(("IMU clip", ""), ("moving the belt", "", bench.belt.start), ("type yes", "no"))
    code, out = bench.check(Config(), person)
    assert code == 0 and "NOT TESTED" in out and "1 not tested: relay" in out
    assert not any(s.state for s in bench.relay_pin.states)


def test_a_welded_relay_and_no_click_are_problems(monkeypatch):
    bench = Bench(monkeypatch, feedback="welded")
    config = with_settings(Config(), belt={"enabled": False}, relay={"feedback_pin": FEEDBACK_PIN})
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "YES"), ("click", "n")))
    assert code == 1
    assert "PROBLEM: the relay did not click" in out and "relay.active_high" in out
    assert "the monitoring contact disagreed with the command when released, released again" in out


def test_an_imu_that_moves_or_reads_wrong_gravity_is_a_problem(monkeypatch):
    def shaking(t_s):
        return (0.0, 0.0, G + 2.0 * math.sin(40.0 * t_s), 0.0, 0.0, 0.0)

    bench = Bench(monkeypatch, motion=shaking)
    config = with_settings(Config(), belt={"enabled": False})
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "")))
    assert code == 1 and "PROBLEM: the clip moved while it was measured" in out

    bench = Bench(monkeypatch, motion=lambda t_s: (0.0, 0.01 * math.sin(t_s), 1.1 * G, 0.0, 0.0, 0.0))
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "")))
    assert code == 1 and "PROBLEM: gravity reads 10.79 m/s², more than 5 % from 9.81" in out


def test_an_imu_that_loses_samples_is_a_problem(monkeypatch):
    bench = Bench(monkeypatch)
    config = with_settings(Config(), belt={"enabled": False})
    failed = []

    def glitch(now_s):  # one failed transaction half way through the measurement
        if now_s > 5.6 and not failed:
            failed.append(now_s)
            bench.bus.fail_next(1)

    bench.clock.hooks.append(glitch)
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "")))
    assert failed and code == 1
    assert "PROBLEM: trouble while reading: 1 read_failed (first: I2C: [Errno 121]" in out


def test_a_range_sensor_that_sees_nothing_is_a_problem(monkeypatch):
    bench = Bench(monkeypatch)
    config = with_settings(Config(), belt={"enabled": False}, range={"enabled": True})
    person = Person(("IMU clip", ""), ("stand on the belt", "", lambda: setattr(bench, "echo_fraction", 1.0)),
                    ("type yes", ""))
    code, out = bench.check(config, person)
    assert code == 1 and "PROBLEM: no echo within range.max_distance_m" in out

    bench = Bench(monkeypatch)
    code, out = bench.check(config, Person(("IMU clip", ""), ("stand on the belt", ""), ("type yes", "")))
    assert code == 1 and "PROBLEM: no readings in 2 s: check TRIG (GPIO 23), ECHO (GPIO 24" in out


def test_check_without_a_terminal_says_so(monkeypatch, capsys):
    bench = Bench(monkeypatch)

    def no_input(prompt):
        raise EOFError

    out = io.StringIO()
    code = run_check(Config(), ask=no_input, clock=bench.clock, i2c_bus=bench.bus, pin_factory=bench.factory,
                     out=out)
    assert code == 2 and "run this command from a terminal" in capsys.readouterr().err
    assert bench.bus.is_closed  # the device it was checking was closed


def test_check_on_a_machine_without_the_hardware_names_each_missing_part(capsys):
    # no /dev/i2c-1 and no Raspberry Pi GPIO here: every device is a problem that says what to do
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "no --config given" in out
    assert out.count("   PROBLEM:") == 3 and "3 of 3 devices have a PROBLEM" in out


def test_check_with_a_broken_or_missing_config_checks_nothing(tmp_path, capsys):
    assert main(["check", "--config", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and "nothing was checked" in err
    fake = tmp_path / "fake.toml"
    fake.write_text('[imu]\ndriver = "fake"\n[belt]\nenabled = false\n[relay]\ndriver = "fake"\n')
    person_never_asked = Person()
    clock = ScriptedClock()
    code = run_check(load_config(fake), ask=person_never_asked, clock=clock,
                     pin_factory=clocked_factory(clock), out=io.StringIO())
    assert code == 1 and person_never_asked.prompts == []


@pytest.mark.parametrize("answer", ["", "n", "nope"])
def test_only_yes_clicks(monkeypatch, answer):
    bench = Bench(monkeypatch)
    config = with_settings(Config(), belt={"enabled": False})
    bench.check(config, Person(("IMU clip", ""), ("type yes", answer)))
    assert not any(s.state for s in bench.relay_pin.states)


def test_an_imu_that_delivers_nothing_or_at_the_wrong_rate_is_a_problem(monkeypatch):
    config = with_settings(Config(), belt={"enabled": False})
    bench = Bench(monkeypatch)
    bench.bus.advance = lambda now_s: None  # its sample clock never runs
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "")))
    assert code == 1 and "PROBLEM: the chip answers but delivered no samples in 1.0 s" in out

    bench = Bench(monkeypatch)
    bench.bus.rate_error = -0.2  # a clone whose oscillator runs 20 % slow
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "")))
    assert code == 1 and "PROBLEM: the chip delivered 160.0 Hz, not the 200 Hz it was set to" in out


def test_a_noisy_belt_sensor_is_a_problem(monkeypatch):
    bench = Bench(monkeypatch)
    pin = bench.factory.pin(BELT_PIN)

    def chatter(now_s):  # contact bounce: edges 1 ms apart, many per step
        if bench.belt.next_s is not None:
            for k in range(4):
                bench.clock.t_s = now_s - 0.01 + k * 0.001
                pin.drive_low() if k % 2 == 0 else pin.drive_high()
            bench.clock.t_s = now_s

    bench.clock.hooks.insert(0, chatter)
    config = with_settings(Config(), belt={"debounce_s": 0.002})
    code, out = bench.check(config, Person(("IMU clip", ""), ("moving the belt", "", bench.belt.start),
                                           ("type yes", "")))
    assert code == 1 and "PROBLEM: more bounces" in out and "raise belt.debounce_s" in out


def test_an_lsm6dso32_named_as_an_lsm6dsox_reads_half_gravity_and_check_points_to_imu_part(monkeypatch):
    from tests.fake_i2c import FakeLsm6ds

    bench = Bench(monkeypatch)
    bench.bus = FakeLsm6ds(bench.clock, who_am_i=0x6C, is_dso32=True)
    config = with_settings(Config(), belt={"enabled": False}, imu={"driver": "lsm6ds3", "part": "lsm6dsox"})
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "")))
    assert code == 1 and "PROBLEM: gravity reads 4.89 m/s²" in out  # half of 9.81, with the sway
    assert 'check that imu.part, now "lsm6dsox", is the part printed on it' in out
    config = with_settings(config, imu={"part": "lsm6dso32"})
    bench.bus = FakeLsm6ds(bench.clock, who_am_i=0x6C, is_dso32=True)
    code, out = bench.check(config, Person(("IMU clip", ""), ("type yes", "")))
    assert code == 0 and "found: LSM6DSO32 (WHO_AM_I 0x6C)" in out


@pytest.mark.parametrize("drive, says", [
    ("level", "If the monitor freezes: the relay keeper, a process of its own, releases the relay 40 ms"),
    ("charge_pump", "If the monitor freezes: the charge-pump circuit releases the relay by itself"),
])
def test_check_says_what_releases_the_relay_if_the_monitor_freezes_with_each_drive(monkeypatch, drive, says):
    bench = Bench(monkeypatch)
    person = Person(("IMU clip", ""), ("moving the belt", "", bench.belt.start), ("type yes", "no"))
    code, out = bench.check(with_settings(Config(), relay={"drive": drive}), person)
    assert says in " ".join(out.split())
    paragraph = out[out.index("If the monitor freezes"):].split("\n\n")[0]
    assert all(len(line) <= 80 for line in paragraph.splitlines())


def test_in_a_terminal_of_80_columns_every_finding_and_problem_fits(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    bench = Bench(monkeypatch, address=0x69)
    person = Person(("moving the belt", ""), ("type yes", "yes"), ("click", "y"))
    code, out = bench.check(Config(), person)
    assert code == 1
    assert [line for line in out.splitlines() if len(line) > 80] == []
    problem = " ".join(out.split())  # the words are all there, only wrapped
    assert "PROBLEM: no MPU-6050-family IMU answers at I2C address 0x68" in problem
    assert "PROBLEM: no pulses from GPIO 27 while the belt moved" in problem
