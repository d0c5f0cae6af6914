"""Done when: `treadguard run --config FILE` for an MPU-6050 + pulse sensor + relay runs
the daemon on a fake bus and mock pins on a simulated clock, a person resets it with
SIGUSR1, an unplugged chip trips it, and the relay pin is at its released level in the
tick of the trip."""

from __future__ import annotations

import functools
import json
import os
import signal

from monitor.cli import run as run_module
from monitor.cli.main import main
from monitor.safety.latch import LatchState
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.deadline import DeadlineRelay
from tests.commands_support import pin_times
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050

CONFIG = """\
# the treadmill in the spare room
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


def permit_on(clock):
    """The run permit with its watchdog on the test's clock and no thread: on a simulated
    clock the loop never stalls unless the test says so (tests/test_deadline.py does)."""
    return lambda relay, lease_s: DeadlineRelay(relay, lease_s, clock=clock, threaded=False)


def config_in(tmp_path) -> str:
    """The config, with trip records kept in the test's own folder."""
    return CONFIG + f'\n[record]\ntrip_dir = "{tmp_path / "trips"}"\n'


def test_run_config_on_fakes_arms_on_sigusr1_trips_on_an_unplugged_chip_and_releases_in_that_tick(
        tmp_path, monkeypatch, capsys):
    path = tmp_path / "treadguard.toml"
    path.write_text(config_in(tmp_path))
    clock = SimulatedClock(100.0)
    bus = FakeMpu6050(clock)
    factory = clocked_factory(clock)
    relay_pin = factory.pin(17)  # made now, at t = 100 s: its history is timed from here
    seen = []

    def person_and_cable(verdict, core):
        seen.append((verdict.t_s, verdict.state, verdict.is_new_trip, relay_pin.state))
        if len(seen) == 100:  # after a second of good data a person asks to arm: SIGUSR1, as systemctl sends it
            os.kill(os.getpid(), signal.SIGUSR1)
        if verdict.t_s >= 102.5 and not bus.is_unplugged:
            bus.unplug()  # the IMU's cable is pulled out

    previous = signal.getsignal(signal.SIGUSR1)
    monkeypatch.setattr(run_module, "run_hardware", functools.partial(
        run_module.run_hardware, clock=clock, i2c_bus=bus, pin_factory=factory, until_s=103.5,
        on_tick=person_and_cable, make_permit=permit_on(clock)))
    assert main(["run", "--config", str(path)]) == 0
    assert "running; the relay stays released until a reset" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGUSR1) is previous  # the handlers were put back

    armed = [t for t, state, _, _ in seen if state is LatchState.ARMED]
    first_tick_s = seen[0][0]  # after the IMU's start-up (its reset and gyro start-up waits)
    assert 100.1 <= first_tick_s <= 100.3
    assert armed and first_tick_s + 0.99 <= armed[0] <= first_tick_s + 1.03  # armed by the signal, at the next tick or so
    trips = [(t, pin) for t, _, is_new, pin in seen if is_new]
    assert len(trips) == 1
    trip_t, pin_in_trip_tick = trips[0]
    assert 102.5 < trip_t <= 102.55 and pin_in_trip_tick is False
    history = pin_times(relay_pin, created_s=100.0)
    assert history[0] == (100.0, False)  # released from the start
    assert [state for _, state in history[1:]] == [True, False]  # energized once, released once
    energized_t, released_t = history[1][0], history[2][0]
    assert energized_t == armed[0]  # the relay follows the verdict in the same tick
    assert released_t == trip_t  # ... and is released in the very tick of the trip
    assert relay_pin.state is False and bus.is_closed
    records = sorted((tmp_path / "trips").glob("trip-*.json"))  # and the trip is explained on disk
    assert len(records) == 1
    assert json.loads(records[0].read_text())["detail"] == "imu_read_failed"  # the unplugged chip


def test_run_hardware_with_a_missing_chip_starts_nothing(tmp_path, capsys):
    path = tmp_path / "treadguard.toml"
    path.write_text(config_in(tmp_path))
    clock = SimulatedClock(0.0)
    factory = clocked_factory(clock)
    from monitor.config.load import load_config
    code = run_module.run_hardware(load_config(path), clock=clock, i2c_bus=FakeMpu6050(clock, address=0x69),
                                   pin_factory=factory, until_s=1.0)
    assert code == 1
    err = capsys.readouterr().err
    assert "[imu] no MPU-6050-family IMU answers" in err and "the relay stays released" in err
    assert not any(s.state for s in factory.pin(17).states)
