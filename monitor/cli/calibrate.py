"""`treadguard calibrate`: measure the IMU's mount and offsets and the belt's pulses per
metre, and write them into the config file, keeping every other setting and comment.

The IMU, in two still poses (chosen over "a few steps": it needs no walking on a
stopped belt, and two still poses are far less noisy than a mean of steps):

1. *Standing upright*, still, as the person stands to walk. The mean acceleration
   is gravity: it gives the vertical (z). The mean gyro rate is the gyro's offset
   (`imu.gyro_bias_radps`). The accelerometer's offset can only be seen along
   gravity in one pose: |mean| - 9.80665 along the vertical is stored as
   `imu.accel_bias_mps2`; an offset across gravity looks exactly like a small tilt
   and is taken into the mount instead, which is all the core needs.
2. *Leaning forward a little* from the hips, toward where the person faces. The
   pelvis (the waist clip) tips with the lean, so the measured gravity moves
   toward the back: the opposite of that move, level, is where the walker faces
   (x for a forward walker, -x walking backwards, from `session.walking`; "auto" calibrates facing
   the console).

The mount is the rotation with rows x, y = z × x, z in the sensor frame, measured
with the offsets removed, as the drivers remove them (in their scaling, the one
place counts become m/s²), so the core sees the same frame the mount was made in.
The IMU is opened with zero offsets for this, so a calibration is never measured
through an older one.

The belt, by hand, with the treadmill unplugged (chosen over running the belt at a
speed shown on the console: that needs the relay energized with no monitor
running, and consoles show the commanded speed, not the belt's): a piece of tape
on the belt goes round from a mark on the side rail back to it, once or more;
the person enters the distance (the belt's length from its label or manual,
times the turns) and pulses_per_m = pulses / distance.

Nothing is written unless every part asked for was measured well. The file is
changed with tomlkit, which keeps comments and layout, checked as a whole with
the same checker as `config --check`, and replaced atomically (a temporary file
in the same folder, fsynced, renamed over it), so it is never half-written.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import tomllib
from pathlib import Path
from typing import Any, TextIO

import tomlkit

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, report_config_error
from monitor.cli.devices import (
    STANDARD_GRAVITY_MPS2,
    Ask,
    CommandClock,
    DeviceUnavailable,
    GpioFactory,
    ImuRecording,
    NoAnswer,
    asker,
    close_quietly,
    describe_health,
    norm,
    open_one,
    record_imu,
)
from monitor.config.load import ConfigError, load_config, parse_config
from monitor.config.schema import Config
from monitor.formats.atomic import replace_file
from monitor.safety.direction import calibrated_facing
from monitor.service.loop.clock import MonotonicClock

POSE_S = 2.0  # seconds measured in each pose
POSE_SETTLE_S = 0.5  # seconds dropped after Enter, while the person gets still
MAX_SPREAD_MPS2 = 0.3  # |a| spread above this: the person moved during the pose
MAX_GYRO_SPREAD_RADPS = 0.1
MIN_LEAN_DEG = 4.0  # smaller tilts cannot give a heading above the sensor's noise
MIN_BELT_PULSES = 10  # fewer, and one pulse more or less is over 10 %
MAX_BELT_DISTANCE_M = 100.0


class CalibrationProblem(Exception):
    """A measurement that cannot be used; the message says what to do."""


def calibrate_command(args: argparse.Namespace) -> int:
    if not args.config:
        return fail("calibrate writes into your config file: name it with --config FILE "
                    "(create one first with `treadguard config --example > FILE`)")
    return run_calibrate(args.config, only=args.only)


def run_calibrate(path: str | os.PathLike[str], *, only: str | None = None, ask: Ask = input,
                  clock: CommandClock | None = None, i2c_bus: Any = None, pin_factory: Any = None,
                  out: TextIO | None = None) -> int:
    """Measure, then update the config file at `path`; 0 when it was written."""
    out = out or sys.stdout
    path = Path(path)
    if not path.exists():
        return fail(f"{path} does not exist: create it with `treadguard config --example > {path}`, "
                    f"set imu.driver and the pins to match your wiring, then run calibrate again")
    try:
        config = load_config(path)
        text = path.read_text(encoding="utf-8")
    except ConfigError as err:
        return report_config_error(err, "fix them first, nothing was measured")
    clock = clock or MonotonicClock()
    ask = asker(ask)
    gpio = GpioFactory(pin_factory)
    updates: dict[tuple[str, str], Any] = {}
    try:
        if only in (None, "imu"):
            updates.update(_calibrate_imu(config, clock, ask, i2c_bus, out))
        if only in (None, "belt"):
            if config.belt.enabled:
                updates.update(_calibrate_belt(config, clock, ask, gpio, out))
            elif only == "belt":
                return fail(f"belt.enabled is false in {path}: there is no belt sensor to calibrate")
    except NoAnswer as err:
        return fail(f"{err}; nothing was written", EXIT_USAGE)
    except (CalibrationProblem, DeviceUnavailable) as err:
        print(f"PROBLEM: {err}", file=out)
        return fail(f"calibration not finished; {path} was not changed", EXIT_FAILED)
    try:
        new_text = update_config_text(text, updates, source=str(path))
        write_atomically(path, new_text)
    except ConfigError as err:  # the measured values do not pass the checker
        for problem in err.problems:
            print(f"treadguard: {err.source}: {problem}", file=sys.stderr)
        return fail(f"the measured values do not fit the rest of {path}; it was not changed", EXIT_FAILED)
    except OSError as err:
        return fail(f"cannot write {path} ({err.strerror or err}): check that its folder is writable and "
                    f"has free space (run with sudo for a file in /etc); it was not changed", EXIT_FAILED)
    names = ", ".join(f"{section}.{key}" for section, key in updates)
    print(f"\nwrote {names} into {path}; your other settings and comments are unchanged. "
          f"`treadguard check --config {path}` tests the devices with them.", file=out)
    return EXIT_OK


# -- the IMU -----------------------------------------------------------------------------------
def _calibrate_imu(config: Config, clock: CommandClock, ask: Ask, i2c_bus: Any,
                   out: TextIO) -> dict[tuple[str, str], Any]:
    raw = dataclasses.replace(config, imu=dataclasses.replace(
        config.imu, accel_bias_mps2=[0.0, 0.0, 0.0], gyro_bias_radps=[0.0, 0.0, 0.0]))
    facing = "the console" if calibrated_facing(config.session.walking) == "forward" \
        else "the rear (you walk backwards)"
    print(f"\n== IMU mount and offsets ([imu] driver = \"{config.imu.driver}\")", file=out)
    imu = None
    try:
        imu = open_one(raw, "imu", clock, i2c_bus=i2c_bus)
        print(f"   found: {imu.chip} (WHO_AM_I 0x{imu.who_am_i:02X})", file=out, flush=True)
        ask(f"Clip the IMU on where you wear it, stand upright on the stopped belt facing {facing}, "
            f"as you stand to walk; hold still and press Enter (then stay still {POSE_S:g} s): ")
        upright = _still_pose(imu, clock, "standing upright")
        print("   standing upright: measured.", file=out, flush=True)
        ask(f"Now lean forward from the hips toward where you face, about 30 degrees (a small bow); "
            f"hold still and press Enter (then stay still {POSE_S:g} s): ")
        lean = _still_pose(imu, clock, "leaning forward")
    finally:
        close_quietly(imu)
    m_up = upright.accel_mean_mps2
    gravity = norm(m_up)
    up = tuple(a / gravity for a in m_up)
    accel_bias = [(gravity - STANDARD_GRAVITY_MPS2) * u for u in up]
    gyro_bias = list(upright.gyro_mean_radps)
    m_lean = tuple(m - b for m, b in zip(lean.accel_mean_mps2, accel_bias))
    mount, lean_deg = mount_from_poses(up, m_lean, calibrated_facing(config.session.walking))
    for name, values, limit in (("accelerometer", accel_bias, 2.0), ("gyroscope", gyro_bias, 0.5)):
        if max(map(abs, values)) > limit:
            raise CalibrationProblem(
                f"the {name} offset {_vector(values)} is beyond what a working chip shows (±{limit:g}): "
                f"check imu.accel_full_scale_g / imu.gyro_full_scale_dps, and `treadguard check`")
    print(f"   gravity {gravity:.3f} m/s²: accelerometer offset {_vector(accel_bias)} m/s² (along gravity)\n"
          f"   gyroscope offset {_vector(gyro_bias)} rad/s\n"
          f"   lean {lean_deg:.1f}°: mount (rows x to the console, y left, z up, in the sensor frame)\n"
          + "".join(f"     {_vector(row)}\n" for row in mount), file=out, end="", flush=True)
    return {("imu", "mount"): [[round(v, 6) for v in row] for row in mount],
            ("imu", "accel_bias_mps2"): [round(v, 4) for v in accel_bias],
            ("imu", "gyro_bias_radps"): [round(v, 5) for v in gyro_bias]}


def _still_pose(imu: Any, clock: CommandClock, pose: str) -> ImuRecording:
    recording = record_imu(imu, clock, POSE_S, settle_s=POSE_SETTLE_S)
    if not recording.samples:
        raise CalibrationProblem(f"the IMU delivered no samples while {pose}: run `treadguard check`")
    if recording.health:
        raise CalibrationProblem(f"the IMU had trouble while {pose} ({describe_health(recording.health)}): "
                                 "run `treadguard check`, then calibrate again")
    if recording.accel_spread_mps2 > MAX_SPREAD_MPS2 or recording.gyro_spread_radps > MAX_GYRO_SPREAD_RADPS:
        raise CalibrationProblem(f"you moved while {pose} (spread {recording.accel_spread_mps2:.2f} m/s², "
                                 f"{recording.gyro_spread_radps:.3f} rad/s): hold still for the "
                                 f"{POSE_S:g} s after Enter, and calibrate again")
    return recording


def mount_from_poses(up: tuple[float, ...], leaning: tuple[float, ...],
                     walking: str = "forward") -> tuple[list[list[float]], float]:
    """The mount (rows x, y, z of the treadmill frame in sensor coordinates) and the lean
    in degrees, from gravity standing upright (`up`, any length) and leaning forward.

    Leaning forward tips the sensor's top toward where the walker faces, so gravity
    as the sensor sees it moves the other way: facing = -(the level part of the move).
    """
    z = _unit(up)
    lean = _unit(leaning)
    along = _dot(lean, z)
    level = [lv - along * zv for lv, zv in zip(lean, z)]
    size = norm(tuple(level))
    lean_deg = math.degrees(math.atan2(size, along))
    if lean_deg < MIN_LEAN_DEG:
        raise CalibrationProblem(
            f"the clip tilted only {lean_deg:.1f}° when you leaned (at least {MIN_LEAN_DEG:g}° is needed to "
            "tell which way you face): lean further from the hips, or wear the clip on the belt at "
            "the front or side of the waist, where it tips with the pelvis; then calibrate again")
    facing = [-v / size for v in level]
    x = facing if walking == "forward" else [-v for v in facing]
    y = _cross(z, x)
    return [list(x), list(y), list(z)], lean_deg


def _unit(v: tuple[float, ...] | list[float]) -> list[float]:
    size = norm(tuple(v))
    return [a / size for a in v]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def _cross(a: list[float], b: list[float]) -> list[float]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _vector(values: Any) -> str:
    return "[" + ", ".join(f"{v:+.4f}" for v in values) + "]"


# -- the belt ---------------------------------------------------------------------------------
def _calibrate_belt(config: Config, clock: CommandClock, ask: Ask, gpio: GpioFactory,
                    out: TextIO) -> dict[tuple[str, str], Any]:
    print(f"\n== belt pulses per metre ([belt] driver = \"{config.belt.driver}\", GPIO {config.belt.pin})", file=out)
    print("   Unplug the treadmill first: you will move the belt by hand.", file=out, flush=True)
    belt = None
    try:
        belt = open_one(config, "belt", clock, gpio=gpio)
        ask("Stick a piece of tape across the belt, next to a mark on the side rail, then press Enter: ")
        first = belt.pulses
        ask("Move the belt by hand until the tape comes round to the mark again (one full turn, or "
            "more for accuracy), then press Enter: ")
        pulses = belt.pulses - first
    finally:
        close_quietly(belt)
    print(f"   {pulses} pulses counted", file=out, flush=True)
    if pulses == 0:
        raise CalibrationProblem(f"no pulses from GPIO {config.belt.pin} while the belt moved: check the "
                                 "sensor's wiring and its gap to the magnet or mark (`treadguard check`)")
    if pulses < MIN_BELT_PULSES:
        raise CalibrationProblem(f"only {pulses} pulses: one more or less would be over 10 %; move the belt "
                                 f"round several times (at least {MIN_BELT_PULSES} pulses) and calibrate again")
    distance_m = _ask_distance(ask)
    pulses_per_m = pulses / distance_m
    print(f"   {pulses} pulses over {distance_m:g} m: {pulses_per_m:.4g} pulses per metre "
          f"(±{100 / pulses:.1f} % from counting whole pulses)", file=out, flush=True)
    return {("belt", "pulses_per_m"): round(pulses_per_m, 4)}


def _ask_distance(ask: Ask) -> float:
    for _ in range(3):
        answer = ask("How many metres of belt went past the mark? (the belt's length from its label or the "
                     "manual, e.g. 2.8, times the number of turns): ").strip().replace(",", ".")
        try:
            distance_m = float(answer.removesuffix("m").strip())
        except ValueError:
            continue
        if 0 < distance_m <= MAX_BELT_DISTANCE_M and math.isfinite(distance_m):
            return distance_m
    raise CalibrationProblem("no distance in metres was given (a number such as 2.8): calibrate again")


# -- the config file ----------------------------------------------------------------------------
def update_config_text(text: str, updates: dict[tuple[str, str], Any], *, source: str = "config") -> str:
    """`text` with each (section, key) set to its value, every other line kept as it was;
    ConfigError if the result does not pass the config checker."""
    document = tomlkit.parse(text)
    for (section, key), value in updates.items():
        if section not in document:
            document.add(section, tomlkit.table())
        document[section][key] = value
    new_text = tomlkit.dumps(document)
    parse_config(tomllib.loads(new_text), source)
    return new_text


def write_atomically(path: Path, text: str) -> None:
    """Replace the file at `path` (following a symlink) by `text`, never half-written;
    mode and owner kept (monitor.atomic)."""
    replace_file(path, text.encode("utf-8"))