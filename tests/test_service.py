"""The daemon as systemd runs it: the unit's own arguments, NOTIFY_SOCKET and
WATCHDOG_USEC set, on a fake bus and mock pins. systemd hears READY=1 once the
devices are open and the relay released, then WATCHDOG=1 while the loop ticks on
time, and none once the loop stalls."""

from __future__ import annotations

import functools
import re
import shlex
import socket
from pathlib import Path

from monitor.cli import run as run_module
from monitor.cli.main import main
from monitor.service.loop.clock import SimulatedClock
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050
from tests.test_run_hardware import config_in, permit_on

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "treadguard.service"


def unit_setting(name: str) -> str:
    return re.search(rf"^{name}=(.*)$", UNIT.read_text(), re.M).group(1).strip()


def run_as_the_unit(tmp_path, monkeypatch, stall_at_s: float, stall_s: float, until_s: float):
    """Run `treadguard <the unit's arguments>` and return [(sim time, message)] as
    the test's notify socket received them, and the relay pin."""
    argv = shlex.split(unit_setting("ExecStart"))[1:]
    assert argv == ["run", "--config", "/etc/treadguard/config.toml"]
    config = tmp_path / "config.toml"
    config.write_text(config_in(tmp_path))
    argv[-1] = str(config)  # the same arguments, with the test's config file

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    watchdog_s = float(unit_setting("WatchdogSec").rstrip("s"))
    monkeypatch.setenv("WATCHDOG_USEC", str(int(watchdog_s * 1e6)))

    clock = SimulatedClock(100.0)
    received: list[tuple[float, str]] = []
    factory = clocked_factory(clock)
    relay_pin = factory.pin(17)

    def drain(t_s: float) -> None:
        while True:
            try:
                received.append((t_s, listener.recv(4096).decode()))
            except BlockingIOError:
                return

    stalled = []

    def systemd_listens(verdict, core) -> None:
        drain(verdict.t_s)  # stamped with the loop's own time
        if abs(verdict.t_s - stall_at_s) < 1e-6 and not stalled:
            stalled.append(verdict.t_s)
            clock.advance(stall_s)  # the loop is stuck after this tick (a wedged bus, say), or its clock steps

    monkeypatch.setattr(run_module, "run_hardware", functools.partial(
        run_module.run_hardware, clock=clock, i2c_bus=FakeMpu6050(clock), pin_factory=factory,
        until_s=until_s, on_tick=systemd_listens, make_permit=permit_on(clock)))
    assert main(argv) == 0
    drain(clock.now())
    listener.close()
    return received, watchdog_s, relay_pin


def test_ready_comes_first_then_regular_watchdogs_while_the_loop_is_healthy(tmp_path, monkeypatch):
    received, watchdog_s, _ = run_as_the_unit(tmp_path, monkeypatch, stall_at_s=-1, stall_s=0, until_s=110.0)
    messages = [m for _, m in received]
    assert messages[0].startswith("READY=1")
    feeds = [t for t, m in received if "WATCHDOG=1" in m.split("\n")]
    assert len(feeds) >= 10
    gaps = [b - a for a, b in zip(feeds, feeds[1:])]
    assert max(gaps) <= watchdog_s / 2  # fed well within the watchdog interval
    assert messages[-1].startswith("STOPPING=1")


def test_no_watchdog_once_the_loop_stalls(tmp_path, monkeypatch):
    received, watchdog_s, relay_pin = run_as_the_unit(
        tmp_path, monkeypatch, stall_at_s=103.0, stall_s=30.0, until_s=120.0)
    feeds = [t for t, m in received if "WATCHDOG=1" in m.split("\n")]
    assert feeds and max(feeds) <= 103.0  # nothing after the stall began
    assert 103.0 + 30.0 - max(feeds) > watchdog_s  # so systemd kills it: the process ends, the pin is let go
    assert relay_pin.state is False


def test_a_late_tick_is_not_fed_but_a_recovered_loop_is(tmp_path, monkeypatch):
    received, watchdog_s, _ = run_as_the_unit(tmp_path, monkeypatch, stall_at_s=103.0, stall_s=0.5,
                                              until_s=108.0)
    feeds = [t for t, m in received if "WATCHDOG=1" in m.split("\n")]
    assert not [t for t in feeds if 103.0 < t <= 103.5 + 1e-6]  # the late tick at 103.5 s is not healthy
    assert [t for t in feeds if t > 104.0]  # on-time ticks after it feed again
    statuses = [m for _, m in received if m.startswith("STATUS=")]
    assert statuses == ["STATUS=unarmed"]  # nobody reset it: it never armed, so nothing tripped


def test_a_clock_that_steps_back_still_gets_watchdogs_while_the_loop_ticks(tmp_path, monkeypatch):
    # at 103 s the clock is set 10 s back: the loop trips clock_backwards and ticks on from 93 s
    received, watchdog_s, relay_pin = run_as_the_unit(tmp_path, monkeypatch, stall_at_s=103.0, stall_s=-10.0,
                                                      until_s=106.0)
    feeds = [t for t, m in received if "WATCHDOG=1" in m.split("\n")]
    jump = next(k for k, (a, b) in enumerate(zip(feeds, feeds[1:])) if b < a) + 1
    before, after = feeds[:jump], feeds[jump:]
    assert before and max(before) <= 103.0 + 1e-6
    assert after and after[0] - 93.0 <= watchdog_s / 3 + 0.02  # fed again within a feeding period of the jump
    assert max(b - a for a, b in zip(after, after[1:])) <= watchdog_s / 2  # and on, tick after tick
    assert after[-1] >= 105.0 and relay_pin.state is False
