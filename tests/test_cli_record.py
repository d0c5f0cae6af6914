"""`treadguard record FILE` on a fake bus and mock pins: what the loop saw goes into a
trace (failed reads as empty cells, belt and range readings on their rows), the monitor
guards while it records, Ctrl-C and --seconds stop it, and a bad path or a full disk
gives a clear message and no half-written file."""

from __future__ import annotations

import io
import json
import os
import signal

import numpy as np
import pytest

from drivers.hcsr04 import HcSr04
from monitor.cli.main import main
from monitor.cli.record import run_record
from monitor.config.schema import Config
from monitor.formats import trace_reader as trace_module
from monitor.formats.trace_reader import read_trace
from monitor.service.loop.deadline import DeadlineRelay
from tests.commands_support import ScriptedClock, TurningBelt
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050
from tests.support import IDENTITY_MOUNT, with_settings


class Rig:
    def __init__(self, monkeypatch, config=None, *, address=0x68):
        self.config = config or with_settings(Config(), imu={"mount": IDENTITY_MOUNT})
        self.clock = ScriptedClock(50.0)
        self.bus = FakeMpu6050(self.clock, address=address)
        self.factory = clocked_factory(self.clock)
        self.belt = TurningBelt(self.factory.pin(27), self.clock, pulses_per_s=8.0)
        self.relay_pin = self.factory.pin(17)
        self.sensors: list[HcSr04] = []
        original = HcSr04.__init__

        def remember(sensor, *args, **kwargs):
            original(sensor, *args, **kwargs)
            self.sensors.append(sensor)

        monkeypatch.setattr(HcSr04, "__init__", remember)
        self.clock.hooks.append(self._echo)

    def _echo(self, now_s):
        if self.sensors and round(now_s * 100) % 5 == 0:  # a ping every 50 ms: 0.75 m
            self.sensors[-1]._on_reading(0.25)

    def record(self, path, **kwargs):
        out = io.StringIO()
        code = run_record(str(path), self.config, clock=self.clock, i2c_bus=self.bus, pin_factory=self.factory,
                          out=out, **kwargs)
        return code, out.getvalue()


def test_record_writes_what_the_sensors_said_for_the_seconds_asked(tmp_path, monkeypatch, capsys):
    rig = Rig(monkeypatch, with_settings(Config(), imu={"mount": IDENTITY_MOUNT}, range={"enabled": True}))
    rig.belt.start()  # 8 pulses/s at 6.4 pulses/m: 1.25 m/s
    path = tmp_path / "walk.csv.gz"
    code, out = rig.record(path, seconds=3.0)
    assert code == 0, capsys.readouterr().err
    trace = read_trace(path)
    assert 590 <= trace.samples <= 600 and trace.imu_ok.all()
    assert trace.t_s[0] > 0 and trace.t_s[-1] <= 3.0 and (np.diff(trace.t_s) > 0).all()
    assert np.allclose(np.nanmean(trace.accel_mps2, axis=0), [0, 0, 9.8], atol=0.05)
    assert trace.meta["imu_mount"] == IDENTITY_MOUNT and trace.walking == "forward"
    assert trace.rear_edge_m == 1.6 and trace.meta["source"] == "treadguard record: MPU-6050 (or MPU-6000)"
    belt = trace.belt_mps[np.isfinite(trace.belt_mps)]
    assert 250 <= len(belt) <= 301 and np.median(belt) == pytest.approx(1.25, rel=0.01)
    ranges = trace.range_m[np.isfinite(trace.range_m)]
    assert 50 <= len(ranges) <= 61 and np.allclose(ranges, 0.75)
    assert f"wrote {trace.samples} samples (3.0 s, 0 failed reads) to {path}" in out
    assert not rig.relay_pin.state and not any(s.state for s in rig.relay_pin.states)  # nobody armed it

    # the recording replays through the same core: a person standing by a turning belt
    assert main(["replay", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tripped"] is False


def test_record_guards_as_run_does_records_failed_reads_and_stops_on_ctrl_c(tmp_path, monkeypatch):
    rig = Rig(monkeypatch, with_settings(Config(), imu={"mount": IDENTITY_MOUNT}, belt={"enabled": False}))
    events = []

    started = []

    def script(verdict, core):
        started.append(verdict.t_s)
        t_s = verdict.t_s - started[0]  # from the first tick, after the IMU's start-up
        if t_s >= 0.5 and "reset" not in events:
            events.append("reset")
            os.kill(os.getpid(), signal.SIGUSR1)  # the person arms it
        if t_s >= 1.0 and "glitch" not in events:
            events.append("glitch")
            rig.bus.fail_next(1)  # one failed read: not a trip
        if t_s >= 1.5 and "unplug" not in events:
            events.append("unplug")
            rig.bus.unplug()  # the cable is pulled: a trip
        if t_s >= 2.0 and "ctrl-c" not in events:
            events.append("ctrl-c")
            os.kill(os.getpid(), signal.SIGINT)

    path = tmp_path / "trip.csv"
    code, out = rig.record(path, on_tick=script)
    assert code == 0 and events == ["reset", "glitch", "unplug", "ctrl-c"]
    trace = read_trace(path)
    assert 1.99 <= trace.t_s[-1] <= 2.02  # stopped by Ctrl-C, and still written
    failed = trace.t_s[~trace.imu_ok]
    assert len(failed) >= 40 and 1.0 <= failed[0] <= 1.02 and failed[1] >= 1.5  # one glitch, then unplugged
    assert "tripped at 1.5" in out and "(sensor_fault: imu_read_failed)" in out
    assert [s.state for s in rig.relay_pin.states] == [False, True, False]
    lines = path.read_text().splitlines()
    assert lines[0] == "# treadmill-trace v1" and lines[-1].endswith(",,,,,,")  # failed reads: empty cells


@pytest.mark.parametrize("name,complaint", [
    ("missing/walk.csv", "does not exist: create it first"),
    ("walk.txt", "a trace file's name ends in .csv or .csv.gz"),
    ("exists.csv", "already exists: choose another name"),
    (".", "is a folder"),
])
def test_a_bad_path_fails_before_anything_is_opened(tmp_path, monkeypatch, capsys, name, complaint):
    (tmp_path / "exists.csv").write_text("precious")
    rig = Rig(monkeypatch)
    path = tmp_path / name if name != "." else tmp_path
    code, _ = rig.record(path, seconds=1.0)
    err = capsys.readouterr().err
    assert code == 2 and complaint in err and "nothing was recorded" in err
    assert rig.clock.t_s == 50.0 and not rig.bus.log  # nothing was opened, no time passed
    assert (tmp_path / "exists.csv").read_text() == "precious"


def test_a_full_disk_gives_a_clear_message_and_no_file(tmp_path, monkeypatch, capsys):
    rig = Rig(monkeypatch)

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trace_module.os, "fsync", full)
    code, _ = rig.record(tmp_path / "walk.csv", seconds=0.5)
    err = capsys.readouterr().err
    assert code == 1 and "cannot write the trace: No space left on device" in err and "is lost" in err
    assert os.listdir(tmp_path) == []  # nothing half-written, no temporary file


def test_a_missing_imu_records_nothing(tmp_path, monkeypatch, capsys):
    rig = Rig(monkeypatch, address=0x69)
    code, _ = rig.record(tmp_path / "walk.csv", seconds=1.0)
    err = capsys.readouterr().err
    assert code == 1 and "[imu] no MPU-6050-family IMU answers" in err and "nothing was recorded" in err
    assert os.listdir(tmp_path) == []


def test_an_imu_that_delivers_nothing_writes_nothing(tmp_path, monkeypatch, capsys):
    rig = Rig(monkeypatch)
    rig.bus.advance = lambda now_s: None  # the chip's sample clock never runs: the FIFO stays empty
    code, _ = rig.record(tmp_path / "walk.csv", seconds=0.5)
    assert code == 1 and "the IMU delivered nothing in 0.5 s" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_record_on_the_command_line_checks_its_arguments(tmp_path, capsys):
    assert main(["record", str(tmp_path / "w.csv"), "--seconds", "0"]) == 2
    assert "--seconds must be a positive number" in capsys.readouterr().err
    assert main(["record", str(tmp_path / "w.csv"), "--config", str(tmp_path / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().err
    # no I2C bus and no Raspberry Pi GPIO on this machine
    assert main(["record", str(tmp_path / "w.csv"), "--seconds", "1"]) == 1
    err = capsys.readouterr().err
    assert "nothing was recorded" in err and "Traceback" not in err


def test_an_unwritable_folder_fails_before_anything_is_opened(tmp_path, monkeypatch, capsys):
    rig = Rig(monkeypatch)
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # (root may write anywhere: pretend)
    assert rig.record(tmp_path / "walk.csv", seconds=1.0)[0] == 2
    assert "is not writable: choose a folder you may write to" in capsys.readouterr().err


def test_a_failed_read_at_the_time_of_a_sample_still_gives_increasing_times():
    from drivers.interfaces import READ_FAILED, HealthEvent, ImuBatch, ImuSample
    from monitor.cli.record import Recorder

    recorder = Recorder()
    recorder.imu(ImuBatch([ImuSample(1.0, 0, 0, 9.8, 0, 0, 0)], [HealthEvent(1.0, READ_FAILED, "x")]))
    recorder.imu(ImuBatch([ImuSample(1.005, 0, 0, 9.8, 0, 0, 0)], []))
    trace = recorder.to_trace("t.csv", {}, 1.0, has_belt=False, has_range=False)
    assert trace.t_s.tolist() == [0.0, 1e-6, pytest.approx(0.005)] and trace.imu_ok.tolist() == [True, False, True]


def test_while_recording_the_relay_runs_only_on_the_loops_lease_as_in_run(tmp_path, monkeypatch):
    """A recording energizes the relay as `run` does, so a loop that stops renewing its lease
    (stuck in a read, a pause) has the relay released by the lease's watchdog, and the trip says so."""
    rig = Rig(monkeypatch, with_settings(Config(), imu={"mount": IDENTITY_MOUNT}, belt={"enabled": False}))
    permits = []

    def permit_on_the_rigs_clock(relay, lease_s):
        permits.append(DeadlineRelay(relay, lease_s, clock=rig.clock.now, threaded=False))
        return permits[-1]

    seen = {}
    started = []

    def script(verdict, core):
        started.append(verdict.t_s)
        t_s = verdict.t_s - started[0]
        if t_s >= 0.5 and "reset" not in seen:
            seen["reset"] = t_s
            os.kill(os.getpid(), signal.SIGUSR1)  # the person arms it
        if t_s >= 1.0 and "stall" not in seen:
            seen["stall"] = t_s
            seen["energized before"] = rig.relay_pin.state
            permit = permits[0]
            for _ in range(100):  # the loop's thread is stuck for 0.5 s; the watchdog checks each 5 ms
                rig.clock.advance(0.005)
                permit.check()
            seen["energized after"] = rig.relay_pin.state
        if t_s >= 2.0 and "ctrl-c" not in seen:
            seen["ctrl-c"] = t_s
            os.kill(os.getpid(), signal.SIGINT)

    path = tmp_path / "stall.csv"
    code, out = rig.record(path, on_tick=script, make_permit=permit_on_the_rigs_clock)
    assert code == 0 and len(permits) == 1
    assert permits[0].lease_s == pytest.approx(Config().loop.deadline_ticks / Config().loop.rate_hz)
    assert seen["energized before"] is True and seen["energized after"] is False  # released within the stall
    assert "if the monitor freezes:" in out
    assert "tripped at 1.5" in out and "(sensor_fault: loop_stalled)" in out  # the first tick after the stall
    assert [s.state for s in rig.relay_pin.states] == [False, True, False]  # and it stayed released
