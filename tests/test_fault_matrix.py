"""The fault matrix: the real daemon on fake hardware through every fault in
bench/fault_matrix.py's table, each ending with the relay released within its bound,
the trip's reason and detail as the table says, and what was written.

`treadguard run`'s own path (run_hardware: the MPU-6050 driver on a register-level
fake I2C bus, the relay, belt and HC-SR04 drivers on gpiozero's MockFactory) runs on a
simulated clock. The run permit's watchdog runs on that clock too and is stepped by
the test wherever time passes inside a stall, so the deadline is checked without a
thread or a sleep. Trace faults go through `treadguard replay`. The trip records are
written by the same handler the worker process runs, in the test's process (so they
are on disk when the run returns); the journal line is read from file descriptor 2.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal

import numpy as np
import pytest

from bench import fault_matrix
from bench.fault_matrix import AT_ONCE, DEADLINE, FAULTS, JOURNAL_AND_RECORD
from monitor.cli import run as run_module
from monitor.cli.main import main
from monitor.config.load import load_config
from monitor.formats.trace_format import Trace
from monitor.formats.trace_reader import read_trace
from monitor.formats.trace_writer import write_trace
from monitor.service.loop.deadline import DeadlineRelay
from monitor.service.outputs.sideline import Sideline
from monitor.service.sessions import hardware
from monitor.service.sessions import on_hardware as hardware_session_module
from monitor.service.trips import trip_record
from tests.commands_support import ScriptedClock, pin_times
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050, G, standing_motion

START_S, ARM_S, FAULT_S = 100.0, 101.0, 102.0
TICK_S = 0.01
WATCHDOG_STEP_S = 0.001
BY_KEY = {f.key: f for f in FAULTS}

CONFIG = """\
[imu]
driver = "mpu6050"
mount = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]

[belt]
driver = "pulse"
pin = 27

[relay]
driver = "gpio"
pin = 17
"""


class InlineSideline:
    """Stands in for the worker process: the same handler, by the same name, run in this process."""

    def __init__(self, target: str, args: tuple = (), *, maxsize: int = 64, name: str = "worker",
                 on_lost=None) -> None:
        import importlib
        module_name, function_name = target.split(":")
        handle = getattr(importlib.import_module(module_name), function_name)(*args)
        self._sideline = Sideline(handle, maxsize=maxsize, name=name)

    def offer(self, item) -> bool:
        return self._sideline.offer(item)

    def close(self, timeout_s: float = 5.0) -> None:
        self._sideline.close(timeout_s)


class HangingBus(FakeMpu6050):
    """The fake MPU-6050, which can also hang inside a transaction, time passing meanwhile."""

    hang_s = 0.0
    on_hang_step = None
    raise_inside: BaseException | None = None  # raised from inside every transaction once set

    def _transaction(self, address, wrote, read):
        if self.raise_inside is not None:
            raise self.raise_inside
        if self.hang_s > 0:
            end_s, self.hang_s = self.clock() + self.hang_s, 0.0
            while self.clock() < end_s - 1e-12:
                self.clock.advance(WATCHDOG_STEP_S)
                self.on_hang_step()
        super()._transaction(address, wrote, read)


class Bench:
    """One run of the real daemon with a fault injected at FAULT_S."""

    def __init__(self, tmp_path, monkeypatch, fault, *, extra_config: str = "", relay_feedback: bool = False) -> None:
        self.fault = fault
        self.tmp_path = tmp_path
        self.trip_dir = tmp_path / "trips"
        self.clock = ScriptedClock(START_S)
        self.transform = None  # motion -> motion, from FAULT_S
        self.bus = HangingBus(self.clock, motion=self._motion)
        self.bus.on_hang_step = self.step_watchdog
        self.factory = clocked_factory(self.clock)
        self.relay_pin = self.factory.pin(17)
        self.feedback_pin = self.factory.pin(22)
        self.feedback_pin.drive_low()  # a released relay's normally-closed monitoring contact
        self.follow_feedback = relay_feedback
        self.feed_range = "[range]" in extra_config
        self.permit: DeadlineRelay | None = None
        self.devices = None
        self.verdicts = []
        self.every_tick = []
        self.is_injected = False
        path = tmp_path / "treadguard.toml"
        text = CONFIG + extra_config + f'\n[record]\ntrip_dir = "{self.trip_dir}"\n'
        if relay_feedback:  # a force-guided relay's monitoring contact on GPIO 22
            text = text.replace("pin = 17\n", "pin = 17\nfeedback_pin = 22\n")
        path.write_text(text)
        self.config = load_config(path)
        real_open = hardware.open_devices

        def spying_open(*args, **kwargs):
            self.devices = real_open(*args, **kwargs)
            return self.devices

        monkeypatch.setattr(hardware, "open_devices", spying_open)
        monkeypatch.setattr(hardware_session_module, "ProcessSideline", InlineSideline)

    def _motion(self, t_s: float):
        values = standing_motion(t_s)
        if self.transform is not None and t_s >= FAULT_S:
            return self.transform(t_s, values)
        return values

    def make_permit(self, relay, lease_s):
        self.permit = DeadlineRelay(relay, lease_s, clock=self.clock, threaded=False)
        return self.permit

    def step_watchdog(self) -> None:
        self.permit.check()

    def pause(self, seconds: float) -> None:
        """The loop's thread makes no progress for `seconds`; the watchdog keeps checking."""
        end_s = self.clock.t_s + seconds
        while self.clock.t_s < end_s - 1e-12:
            self.clock.advance(WATCHDOG_STEP_S)
            self.step_watchdog()

    def on_tick(self, verdict, core) -> None:
        self.verdicts.append(verdict)
        t_s = verdict.t_s
        if abs(t_s - ARM_S) < 1e-6:
            core.request_reset()  # a person arms it (what SIGUSR1 asks)
        if self.feed_range:
            self.devices.range_sensor._on_reading(0.25)  # a ping: the walker 0.75 m from the console
        if self.follow_feedback:
            (self.feedback_pin.drive_high if self.relay_pin.state else self.feedback_pin.drive_low)()
        for action in self.every_tick:
            action(t_s)
        if t_s >= FAULT_S - 1e-9 and not self.is_injected:
            self.is_injected = True
            INJECT[self.fault.key](self)

    def run(self, until_s: float) -> int:
        return run_module.run_hardware(
            self.config, clock=self.clock, i2c_bus=self.bus, pin_factory=self.factory, until_s=until_s,
            on_tick=self.on_tick, make_permit=self.make_permit)

    # -- what happened -----------------------------------------------------------------------
    def relay_history(self):
        return pin_times(self.relay_pin, created_s=START_S)

    def records(self):
        return sorted(self.trip_dir.glob("trip-*.json")) if self.trip_dir.is_dir() else []


# -- the faults ---------------------------------------------------------------------------------------

def _unplug(bench):
    bench.bus.unplug()


def _every_other_read(bench):
    bench.every_tick.append(lambda t_s: bench.bus.fail_next(1) if round(t_s / TICK_S) % 2 == 0 else None)


def _frozen(bench):
    held = standing_motion(FAULT_S)
    bench.transform = lambda t_s, values: held


def _sleep_the_chip(bench):
    bench.bus.regs[bench.bus.PWR_MGMT_1] |= 0x40


def _raw_held(bench, channels):
    held = standing_motion(FAULT_S)
    bench.transform = lambda t_s, values: tuple(held[i] if i in channels else v for i, v in enumerate(values))


def _signal(signum):
    return lambda bench: os.kill(os.getpid(), signum)


def _belt_lost(bench):
    def lost():
        raise OSError("the belt sensor's pin cannot be read")
    bench.devices.belt.read = lost


def _belt_read_raises(error):
    def read():
        raise error
    return lambda bench: setattr(bench.devices.belt, "read", read)


def _range_lost(bench):
    bench.feed_range = False


def _not_following(bench):
    bench.follow_feedback = False
    bench.feedback_pin.drive_low()  # the contact reads "released" while the relay is energized


INJECT = {
    "imu_unplugged": _unplug,
    "i2c_error_burst": lambda bench: bench.bus.fail_next(10),
    "i2c_every_other_read": _every_other_read,
    "chip_reset": lambda bench: bench.bus.power_glitch(),
    "fifo_overflow": lambda bench: bench.bus.regs.__setitem__(bench.bus.INT_STATUS, 0x10),
    "imu_frozen": _frozen,
    "imu_silent": _sleep_the_chip,
    "accel_zero": lambda bench: setattr(bench, "transform", lambda t, v: (0.0, 0.0, 0.0) + tuple(v[3:])),
    "accel_in_g": lambda bench: setattr(bench, "transform", lambda t, v: tuple(x / G for x in v[:3]) + tuple(v[3:])),
    "no_gravity": lambda bench: setattr(bench, "transform", lambda t, v: (v[0], v[1], v[2] - G) + tuple(v[3:])),
    "accel_dead": lambda bench: _raw_held(bench, {0, 1, 2}),
    "channel_stuck": lambda bench: _raw_held(bench, {1}),
    "gyro_zero": lambda bench: setattr(bench, "transform", lambda t, v: tuple(v[:3]) + (0.0, 0.0, 0.0)),
    "belt_sensor_lost": _belt_lost,
    "range_sensor_lost": _range_lost,
    "relay_welded": _not_following,
    "imu_read_none": lambda bench: setattr(bench.devices.imu, "read", lambda: None),
    "imu_read_interrupted": lambda bench: setattr(bench.bus, "raise_inside", KeyboardInterrupt()),
    "belt_read_exits": _belt_read_raises(SystemExit(3)),
    "belt_read_garbage": lambda bench: setattr(bench.devices.belt, "read", lambda: "12 m/s"),
    "read_blocks_2s": lambda bench: setattr(bench.bus, "hang_s", 2.0),
    "loop_paused_3s": lambda bench: bench.pause(3.0),
    "clock_back": lambda bench: bench.clock.advance(-10.0),
    "clock_forward": lambda bench: bench.clock.advance(5.0),
    "sigterm": _signal(signal.SIGTERM),
    "sigint": _signal(signal.SIGINT),
    "trip_dir_full": _unplug,
    "trip_dir_read_only": _unplug,
    "trip_dir_symlink": _unplug,
}

EXTRA_CONFIG = {"range_sensor_lost": '\n[range]\nenabled = true\ndriver = "hcsr04"\n'}
CLOCK_STEP_S = {"clock_back": -10.0, "clock_forward": 5.0}
CAUSES = {  # the line that says a broken driver's cause, once
    "imu_read_none": "the imu driver failed: read() returned None, not an ImuBatch",
    "imu_read_interrupted": "the imu driver failed: read() raised KeyboardInterrupt",
    "belt_read_exits": "the belt driver failed: read() raised SystemExit",
    "belt_read_garbage": "the belt driver failed: read() returned a str, not a BeltReading",
}
TRACE_FAULTS = {"nan_two_of_three", "inf_channel", "accel_zero_throughout"}


def _run_until_s(fault) -> float:
    """Long enough for the fault to be detected, and for the loop to come back from a stall or a jump."""
    after_s = {"read_blocks_2s": 2.5, "loop_paused_3s": 3.5, "clock_forward": 5.5}.get(fault.key, 0.5)
    return FAULT_S + fault.detectable_after_s + after_s


# -- trace faults through replay -------------------------------------------------------------------------

def _trace(tmp_path, key: str):
    rate = 200.0
    n = int(4.0 * rate)
    rng = np.random.default_rng(3)
    t = START_S + np.arange(n) / rate
    accel = rng.normal(0.0, 0.05, (n, 3)) + [0.0, 0.0, G]
    gyro = rng.normal(0.0, 0.01, (n, 3))
    late = t >= FAULT_S
    if key == "nan_two_of_three":
        accel[late & (np.arange(n) % 3 != 0), 0] = np.nan
    elif key == "inf_channel":
        gyro[late, 2] = np.inf
    elif key == "accel_zero_throughout":
        accel[:] = 0.0
    ok = np.isfinite(accel).all(axis=1) & np.isfinite(gyro).all(axis=1)
    path = tmp_path / f"{key}.csv"
    meta = {"imu_mount": [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]], "walking": "forward"}
    write_trace(path, Trace(str(path), meta, t, np.where(ok[:, None], accel, 0.0), np.where(ok[:, None], gyro, 0.0),
                            ok))
    return path


def _check_trace_fault(fault, tmp_path, capfd):
    path = _trace(tmp_path, fault.key)
    assert main(["replay", str(path), "--json"]) == 0
    result = json.loads(capfd.readouterr().out.strip().splitlines()[-1])
    assert result["tripped"] and (result["reason"], result["detail"]) == (fault.reason, fault.detail)
    faulty_from_s = START_S if fault.key == "accel_zero_throughout" else FAULT_S
    assert faulty_from_s <= result["trip_t"] <= faulty_from_s + fault.detectable_after_s + 2 * TICK_S + 1e-6


# -- the matrix ---------------------------------------------------------------------------------------------

def test_the_matrix_has_at_least_25_faults_and_each_has_an_injection():
    assert len(FAULTS) >= 25
    assert set(INJECT) | TRACE_FAULTS == set(BY_KEY)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.key)
def test_fault(fault, tmp_path, monkeypatch, capfd):
    if fault.key in TRACE_FAULTS:
        _check_trace_fault(fault, tmp_path, capfd)
        return
    if fault.key == "trip_dir_symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o750)
        os.symlink(tmp_path / "elsewhere", tmp_path / "trips")
    bench = Bench(tmp_path, monkeypatch, fault, extra_config=EXTRA_CONFIG.get(fault.key, ""),
                  relay_feedback=fault.key == "relay_welded")
    if fault.key == "trip_dir_full":
        def full(fd, payload):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(trip_record, "_write_all", full)
    if fault.key == "trip_dir_read_only":
        def read_only(folder_fd, folder, name):
            raise OSError(errno.EROFS, "Read-only file system")
        monkeypatch.setattr(trip_record, "_create", read_only)

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    assert bench.run(until_s=_run_until_s(fault)) == 0
    assert {s: signal.getsignal(s) for s in previous} == previous
    out, err = capfd.readouterr()

    history = bench.relay_history()
    assert history[0] == (START_S, False)
    energized = [t for t, state in history if state]
    assert energized and abs(energized[0] - (ARM_S + TICK_S)) < 1e-6  # armed by the person at 101 s: the next tick
    released = [t for t, state in history[1:] if not state]
    assert released, "the relay was never released"
    released_s = released[0]
    assert bench.relay_pin.state is False  # and it ends released

    trips = [v for v in bench.verdicts if v.is_new_trip]
    if fault.bound == AT_ONCE:
        assert released_s == pytest.approx(FAULT_S)  # in the signal handler, in the tick it arrived
        assert trips == [] and bench.verdicts[-1].t_s == pytest.approx(FAULT_S)  # the loop ended there
        assert "TRIPPED" not in err and bench.records() == []
        return

    assert trips, "no trip"
    trip = trips[0].trip
    assert (trip.reason, trip.detail) == (fault.reason, fault.detail), trip.describe()
    if fault.bound == DEADLINE:
        last_renewal_s = FAULT_S  # the tick at FAULT_S renewed the lease before the stall began
        assert released_s - last_renewal_s <= bench.permit.lease_s + WATCHDOG_STEP_S + 1e-9
        assert bench.permit.expiries == 1  # released by the watchdog, while the loop was stuck
        stalled = trip.problems[0].values["stalled_s"]
        assert stalled >= 2.0 and trip.problems[0].limits == {"deadline_s": bench.permit.lease_s}
    else:
        fault_s = FAULT_S + CLOCK_STEP_S.get(fault.key, 0.0)  # when the fault shows on the loop's own clock
        assert fault_s - 1e-9 <= released_s <= fault_s + fault.detectable_after_s + 2 * TICK_S + 1e-6
        assert released_s == pytest.approx(trips[0].t_s)  # in the very tick of the trip
        if fault.key == "clock_back":
            assert trip.problems[0].values == {"jumped_back_s": pytest.approx(10.0)}

    line = f"TRIPPED {fault.reason} ({fault.detail}"
    journal = [x for x in err.splitlines() if line in x]
    assert len(journal) == 1  # one line, the moment it tripped
    if fault.key in CAUSES:
        assert err.count(CAUSES[fault.key]) == 1 and "Traceback" not in err  # the cause, said once
    assert "limit" in journal[0] or not trip.problems[0].limits
    if fault.writes.startswith(JOURNAL_AND_RECORD):
        records = bench.records()
        assert len(records) == 1
        explanation = json.loads(records[0].read_text())
        assert (explanation["reason"], explanation["detail"]) == (fault.reason, fault.detail)
        assert explanation["problems"][0]["limits"] == {
            k: (v if math.isfinite(v) else None) for k, v in trip.problems[0].limits.items()}
        data = read_trace(records[0].with_suffix(".csv.gz"))
        assert data.samples > 50 and data.belt_mps is not None  # the belt sensor is fitted
        if bench.feed_range or fault.key == "range_sensor_lost":
            assert data.range_m is not None
        assert err.index(line) < err.index("trip recorded")  # the journal first, then the files
    else:
        assert bench.records() == []
        if fault.key == "trip_dir_symlink":
            assert "is a symbolic link" in err and list((tmp_path / "elsewhere").iterdir()) == []
        else:
            assert err.count("could not write") == 1  # said once, with what to check
            assert "free space" in err


def test_docs_reliability_is_current():
    assert fault_matrix.PAGE.read_text() == fault_matrix.render(), (
        "docs/reliability.md is out of date: run `python bench/fault_matrix.py --write`")
