"""A relay for the relay keeper's process that another process can watch: the real GpioRelay on
gpiozero's MockFactory, each change of its pin written as a line to a FIFO.

The keeper builds it from its --relay factory name, in its own process; the test (or
bench/frozen_daemon.py) opens the FIFO's read end first and waits on it with select:

    1 <time.monotonic()>    the relay pin went to its energizing level
    0 <time.monotonic()>    the relay pin went to its released level

time.monotonic() is the system's CLOCK_MONOTONIC, the same in every process.
"""

from __future__ import annotations

import os
import select
import time

from drivers.gpio_relay import GpioRelay

WATCHED_RELAY = "tests.keeper_support:watched_relay"


class WatchedRelay(GpioRelay):
    """GpioRelay on a mock pin that reports every change of the pin's level to a FIFO."""

    def __init__(self, pin: int, report_path: str, **kwargs) -> None:
        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
        self._pin = factory.pin(pin)
        self._report = os.open(report_path, os.O_WRONLY | os.O_NONBLOCK)  # the watcher opened it first
        self._said: bool | None = None
        super().__init__(pin, time.monotonic, pin_factory=factory, **kwargs)
        self._say()

    def _say(self) -> None:
        level = bool(self._pin.state)
        if level != self._said and self._report >= 0:
            self._said = level
            try:
                os.write(self._report, f"{int(level)} {time.monotonic():.6f}\n".encode())
            except OSError:
                pass

    def energize(self) -> None:
        try:
            super().energize()
        finally:
            self._say()

    def release(self) -> None:
        super().release()
        if hasattr(self, "_report"):
            self._say()


def watched_relay(args: dict) -> WatchedRelay:
    return WatchedRelay(int(args.get("pin", 17)), args["report_path"])


class PinWatcher:
    """The read end of the FIFO: waits for the pin to reach a level, with a generous timeout."""

    def __init__(self, path: str) -> None:
        os.mkfifo(path)
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._buffer = b""
        self.changes: list[tuple[bool, float]] = []

    def wait_for(self, level: bool, timeout_s: float = 30.0) -> float | None:
        """The monotonic time the pin reached `level` next (or already had, unread); None on timeout."""
        end_s = time.monotonic() + timeout_s
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                state, t_s = line.split()
                self.changes.append((state == b"1", float(t_s)))
                if (state == b"1") == level:
                    return float(t_s)
            left_s = end_s - time.monotonic()
            if left_s <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], left_s)
            if ready:
                chunk = os.read(self._fd, 4096)
                if not chunk:  # no writer yet, or it closed: keep waiting for one
                    select.select([], [], [], min(0.01, left_s))
                self._buffer += chunk

    def close(self) -> None:
        os.close(self._fd)


class DaemonProcess:
    """`tests.daemon_harness` (the real run_hardware on fake hardware) as a child process, its
    output collected by a thread so it never blocks on a full pipe."""

    def __init__(self, config_path: str, *args: str, cwd: str | None = None, own_group: bool = False) -> None:
        import subprocess
        import sys
        import threading
        from pathlib import Path

        self.popen = subprocess.Popen([sys.executable, "-m", "tests.daemon_harness", config_path, *args],
                                      cwd=cwd or str(Path(__file__).resolve().parent.parent),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      start_new_session=own_group)  # its own group, as systemd's cgroup
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        for line in self.popen.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout_s: float = 30.0) -> bool:
        """True once `text` is in the output; False at the timeout or when the process ended without it."""
        with self._changed:
            return self._changed.wait_for(lambda: text in self.output or not self._reader.is_alive(),
                                          timeout_s) and text in self.output

    def keeper_pid(self) -> int | None:
        """The relay keeper among the daemon's children."""
        try:
            children = open(f"/proc/{self.pid}/task/{self.pid}/children").read().split()
        except OSError:
            return None
        for child in children:
            try:
                if b"relay_keeper" in open(f"/proc/{child}/cmdline", "rb").read():
                    return int(child)
            except OSError:
                continue
        return None

    def stop(self) -> int | None:
        import signal
        import subprocess

        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(5)
        return self.popen.returncode


def keeper_config(tmp_path) -> str:
    """A config for the harness: MPU-6050, pulse belt, level-driven relay; records and status in tmp_path."""
    return f"""\
[imu]
driver = "mpu6050"
mount = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]

[belt]
driver = "pulse"
pin = 27

[relay]
driver = "gpio"
pin = 17

[record]
trip_dir = "{tmp_path / 'trips'}"

[status]
socket_path = "{tmp_path / 'status.sock'}"
"""
