"""`treadguard calibrate` on a fake bus and mock pins: the mount from standing and leaning,
the offsets, the belt's pulses per metre, written into the person's config file with
their comments kept; nothing written when a device is missing or a measurement is bad."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pytest

from drivers.mpu6050 import Mpu6050
from monitor.cli import calibrate as calibrate_module
from monitor.cli.calibrate import CalibrationProblem, mount_from_poses, run_calibrate, update_config_text
from monitor.cli.main import main
from monitor.config.load import ConfigError, load_config
from tests.commands_support import Person, ScriptedClock, TurningBelt
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050, G
from tests.support import random_rotation

CONFIG = """\
# The treadmill in the spare room. Tuned by hand, please keep these notes.
[session]
walking = "forward"

[imu]
driver = "mpu6050"
# I2C address 0x68: the GY-521 with AD0 open
i2c_address = 0
mount = []  # found by calibrate

[belt]
pin = 27
pulses_per_m = 6.4   # a guess: one magnet on a 50 mm roller
max_forward_mps = 2.5  # my limit, not the default

[relay]
pin = 17
"""
LEAN_RAD = math.radians(20.0)
GYRO_BIAS = (0.021, -0.013, 0.006)
ACCEL_BIAS = (0.08, -0.05, 0.12)  # only the part along gravity is seen in one pose


class Walker:
    """A person wearing an IMU mounted at a known rotation, standing upright, or leaning forward."""

    def __init__(self, mount: np.ndarray, moving: bool = False) -> None:
        self.mount = mount  # v_treadmill = mount . v_sensor
        self.pose = "upright"
        self.moving = moving

    def motion(self, t_s: float):
        if self.pose == "lean":
            up = np.array([-math.sin(LEAN_RAD), 0.0, math.cos(LEAN_RAD)])  # the top tips toward the console
        else:
            up = np.array([0.0, 0.0, 1.0])
        sway = 0.03 * math.sin(5.0 * t_s) + (3.0 * math.sin(30.0 * t_s) if self.moving else 0.0)
        accel = self.mount.T @ (G * up + np.array([sway, 0.0, 0.0])) + ACCEL_BIAS
        gyro = np.array(GYRO_BIAS) + 0.01 * math.sin(7.0 * t_s)
        return (*accel, *gyro)


class Rig:
    def __init__(self, tmp_path, text=CONFIG, *, seed=3, address=0x68, moving=False, lean=True):
        self.path = tmp_path / "treadguard.toml"
        self.path.write_text(text)
        self.clock = ScriptedClock(20.0)
        self.mount = random_rotation(np.random.default_rng(seed))
        self.walker = Walker(self.mount, moving)
        self.bus = FakeMpu6050(self.clock, address=address, motion=self.walker.motion)
        self.factory = clocked_factory(self.clock)
        self.belt = TurningBelt(self.factory.pin(27), self.clock, pulses_per_s=25.0)
        self.lean = lean

    def person(self, pulses=70, metres="5.6", **extra):
        def lean():
            if self.lean:
                self.walker.pose = "lean"

        return Person(("stand upright", ""), ("lean forward", "", lean),
                      ("stick a piece of tape", ""), ("move the belt by hand", "", lambda: self.belt.turn(pulses)),
                      ("how many metres", metres))

    def run(self, person=None, **kwargs):
        out = io.StringIO()
        code = run_calibrate(self.path, ask=person or self.person(), clock=self.clock, i2c_bus=self.bus,
                             pin_factory=self.factory, out=out, **kwargs)
        return code, out.getvalue()


def test_calibrate_measures_the_mount_offsets_and_belt_and_keeps_every_comment(tmp_path):
    rig = Rig(tmp_path)
    code, out = rig.run()
    assert code == 0, out
    config = load_config(rig.path)
    assert np.allclose(config.imu.mount, rig.mount, atol=0.02)  # the offset across gravity tilts it < 1°
    up = rig.mount[2]  # the vertical in sensor coordinates
    along = float(np.dot(ACCEL_BIAS, up))
    assert np.allclose(config.imu.accel_bias_mps2, along * up, atol=0.01)
    assert np.allclose(config.imu.gyro_bias_radps, GYRO_BIAS, atol=0.001)
    assert config.belt.pulses_per_m == 12.5  # 70 pulses over 5.6 m
    text = rig.path.read_text()
    for kept in ("# The treadmill in the spare room. Tuned by hand, please keep these notes.",
                 "# I2C address 0x68: the GY-521 with AD0 open", "max_forward_mps = 2.5  # my limit, not the default",
                 "pulses_per_m = 12.5   # a guess", '[relay]\npin = 17\n', 'walking = "forward"'):
        assert kept in text
    assert config.belt.max_forward_mps == 2.5
    assert "lean 20." in out and "70 pulses over 5.6 m: 12.5 pulses per metre" in out
    assert "wrote imu.mount, imu.accel_bias_mps2, imu.gyro_bias_radps, belt.pulses_per_m" in out
    assert [p for p in os.listdir(tmp_path) if p != "treadguard.toml"] == []  # no temporary file left


def test_the_calibrated_offsets_are_removed_by_the_driver(tmp_path):
    rig = Rig(tmp_path)
    assert rig.run()[0] == 0
    config = load_config(rig.path)
    rig.walker.pose = "upright"
    imu = Mpu6050.from_config(config.imu, rig.clock, bus=rig.bus)
    samples = []
    for _ in range(50):
        rig.clock.sleep_until(rig.clock.t_s + 0.02)
        samples += imu.read().samples
    samples = np.array(samples)[:, 1:]
    mount = np.array(config.imu.mount)
    assert np.allclose((mount @ samples[:, :3].mean(axis=0)), [0, 0, 9.80665], atol=0.02)
    assert np.allclose(samples[:, 3:].mean(axis=0), 0.0, atol=0.002)


def test_walking_backwards_turns_the_heading_around(tmp_path):
    rig = Rig(tmp_path, CONFIG.replace('walking = "forward"', 'walking = "backward"'))
    person = Person(("facing the rear", ""), ("lean forward", "", lambda: setattr(rig.walker, "pose", "lean")))
    code, out = rig.run(person, only="imu")
    assert code == 0, out
    mount = np.array(load_config(rig.path).imu.mount)
    assert np.allclose(mount, np.diag([-1.0, -1.0, 1.0]) @ rig.mount, atol=0.02)


def test_the_mount_from_two_poses_is_a_rotation_with_x_where_the_walker_faces():
    lean = (-math.sin(0.3), 0.0, math.cos(0.3))  # identity mount, leaning toward +x
    mount, lean_deg = mount_from_poses((0.0, 0.0, 9.8), lean)
    assert np.allclose(mount, np.eye(3), atol=1e-12) and lean_deg == pytest.approx(math.degrees(0.3))
    with pytest.raises(CalibrationProblem, match="tilted only 1.0° when you leaned"):
        mount_from_poses((0.0, 0.0, 1.0), (math.sin(math.radians(1.0)), 0.0, math.cos(math.radians(1.0))))


def test_a_missing_imu_writes_nothing_and_says_what_to_check(tmp_path, capsys):
    rig = Rig(tmp_path, address=0x69)
    before = rig.path.read_bytes()
    code, out = rig.run(Person())
    assert code == 1 and rig.path.read_bytes() == before
    assert "PROBLEM: no MPU-6050-family IMU answers at I2C address 0x68" in out
    assert f"{rig.path} was not changed" in capsys.readouterr().err


def test_moving_or_not_leaning_writes_nothing(tmp_path):
    rig = Rig(tmp_path, moving=True)
    before = rig.path.read_bytes()
    code, out = rig.run(Person(("stand upright", "")))
    assert code == 1 and "PROBLEM: you moved while standing upright" in out and rig.path.read_bytes() == before

    rig = Rig(tmp_path, lean=False)
    code, out = rig.run(Person(("stand upright", ""), ("lean forward", "")))
    assert code == 1 and "PROBLEM: the clip tilted only 0.0° when you leaned" in out
    assert rig.path.read_bytes() == before


def test_too_few_belt_pulses_or_none_write_nothing(tmp_path):
    rig = Rig(tmp_path)
    before = rig.path.read_bytes()
    person = Person(("tape", ""), ("move the belt", "", lambda: rig.belt.turn(6)))
    code, out = rig.run(person, only="belt")
    assert code == 1 and "PROBLEM: only 6 pulses" in out and rig.path.read_bytes() == before
    code, out = rig.run(Person(("tape", ""), ("move the belt", "")), only="belt")
    assert code == 1 and "PROBLEM: no pulses from GPIO 27" in out and rig.path.read_bytes() == before


def test_the_belt_distance_is_asked_again_until_it_is_a_number(tmp_path):
    rig = Rig(tmp_path)
    person = Person(("tape", ""), ("move the belt", "", lambda: rig.belt.turn(40)),
                    ("how many metres", "two"), ("how many metres", "-1"), ("how many metres", "3,2 m"))
    code, out = rig.run(person, only="belt")
    assert code == 0, out
    assert load_config(rig.path).belt.pulses_per_m == 12.5
    rig = Rig(tmp_path)
    person = Person(("tape", ""), ("move the belt", "", lambda: rig.belt.turn(40)),
                    ("how many metres", ""), ("how many metres", "x"), ("how many metres", "0"))
    code, out = rig.run(person, only="belt")
    assert code == 1 and "no distance in metres was given" in out


def test_a_config_file_that_does_not_exist_says_how_to_make_one(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert run_calibrate(missing, ask=Person()) == 2
    err = capsys.readouterr().err
    assert "does not exist: create it with `treadguard config --example >" in err and not missing.exists()
    assert main(["calibrate"]) == 2
    assert "name it with --config FILE" in capsys.readouterr().err


def test_a_broken_config_is_reported_before_anything_is_measured(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text("[imu]\ndrivr = \"mpu6050\"\n")
    assert main(["calibrate", "--config", str(path)]) == 2
    assert "imu.drivr: unknown setting" in capsys.readouterr().err


def test_a_full_disk_leaves_the_config_as_it_was(tmp_path, monkeypatch, capsys):
    rig = Rig(tmp_path)
    before = rig.path.read_bytes()

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(calibrate_module.os, "fsync", full)
    code, _ = rig.run()
    assert code == 1 and rig.path.read_bytes() == before
    err = capsys.readouterr().err
    assert f"cannot write {rig.path} (No space left on device)" in err and "it was not changed" in err
    assert os.listdir(tmp_path) == ["treadguard.toml"]


def test_without_stdin_nothing_is_written(tmp_path, capsys):
    rig = Rig(tmp_path)

    def no_input(prompt):
        raise EOFError

    assert rig.run(no_input)[0] == 2 and "run this command from a terminal" in capsys.readouterr().err


def test_updating_adds_a_missing_section_and_refuses_values_the_checker_refuses():
    text = "# mine\n[loop]\nrate_hz = 100.0\n"
    new = update_config_text(text, {("belt", "pulses_per_m"): 20.0})
    assert new.startswith(text) and "[belt]\npulses_per_m = 20.0" in new
    with pytest.raises(ConfigError, match="belt.debounce_s"):  # so many pulses the debounce would hide them
        update_config_text(text, {("belt", "pulses_per_m"): 900.0})


def test_writing_keeps_the_file_mode_and_follows_a_symlink(tmp_path):
    real = tmp_path / "real.toml"
    real.write_text("[loop]\n")
    real.chmod(0o640)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    calibrate_module.write_atomically(link, "[loop]\nrate_hz = 50.0\n")
    assert link.is_symlink() and real.read_text() == "[loop]\nrate_hz = 50.0\n"
    assert (real.stat().st_mode & 0o777) == 0o640


def test_only_belt_without_a_belt_sensor_says_so(tmp_path, capsys):
    rig = Rig(tmp_path, CONFIG.replace("[belt]\n", "[belt]\nenabled = false\n"))
    assert rig.run(Person(), only="belt")[0] == 2
    assert "belt.enabled is false" in capsys.readouterr().err


def test_an_offset_no_working_chip_shows_writes_nothing(tmp_path):
    rig = Rig(tmp_path)
    rig.bus.motion = lambda t_s: tuple(v * 1.5 for v in rig.walker.motion(t_s))  # |a| 14.7: 4.9 m/s² off
    before = rig.path.read_bytes()
    code, out = rig.run(Person(("stand upright", ""), ("lean forward", "", lambda: setattr(rig.walker, "pose", "lean"))),
                        only="imu")
    assert code == 1 and "PROBLEM: the accelerometer offset" in out and "beyond what a working chip shows" in out
    assert rig.path.read_bytes() == before


def test_trouble_on_the_bus_during_a_pose_writes_nothing(tmp_path):
    rig = Rig(tmp_path)
    rig.clock.hooks.append(lambda now_s: rig.bus.fail_next(1) if 20.8 < now_s < 20.83 else None)
    code, out = rig.run(Person(("stand upright", "")), only="imu")
    assert code == 1 and "PROBLEM: the IMU had trouble while standing upright (1 read_failed" in out
