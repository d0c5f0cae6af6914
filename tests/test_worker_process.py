"""A trip-record worker that is stopped (SIGSTOP), not dead: every record it will never write is
said, and neither close() nor the interpreter's exit waits for it without end.

The real ProcessSideline with a real child process; the daemon test runs the real daemon
(tests.daemon_harness) and stops its real trip-records worker. Waits are on events with
generous timeouts; nothing asserts a timing.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from monitor.service.trips.worker_process import ProcessSideline
from tests.keeper_support import DaemonProcess, PinWatcher, keeper_config

REPO = Path(__file__).resolve().parents[1]


def writer(folder: str):
    """The worker's handler (runs in the child): each item is a file named item["name"]."""
    def write(item: dict) -> None:
        with open(os.path.join(folder, item["name"]), "w") as f:
            f.write(item["pad"])
    return write


def wait_until(predicate, timeout_s: float = 60.0) -> bool:
    end_s = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end_s:
            return False
        select.select([], [], [], 0.02)
    return True


def is_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_a_stopped_worker_has_every_lost_record_said_once_and_close_ends_it(tmp_path):
    lost: list[tuple[str, str]] = []
    worker = ProcessSideline("tests.test_worker_process:writer", (str(tmp_path),), maxsize=4,
                             on_lost=lambda item, why: lost.append((item["name"], why)))
    pid = worker.pid
    try:
        worker.offer({"name": "first", "pad": ""})
        assert wait_until(lambda: worker.unanswered == 0 and (tmp_path / "first").exists())  # up and writing
        os.kill(pid, signal.SIGSTOP)
        offered = [f"record{i}" for i in range(12)]
        for name in offered:  # big enough to fill the pipe to a stopped reader
            worker.offer({"name": name, "pad": "x" * 300_000})
        closed = threading.Event()
        threading.Thread(target=lambda: (worker.close(timeout_s=1.0), closed.set()), daemon=True).start()
        assert closed.wait(60), "close() waited on a stopped worker without end"
    finally:
        if not is_gone(pid):
            os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: is_gone(pid))  # ended, though it was stopped
    said = [name for name, _ in lost]
    written = {p.name for p in tmp_path.iterdir()} - {"first"}
    assert len(said) == len(set(said))  # each said once
    assert set(said) | written == set(offered) and not set(said) & written  # and every one accounted for
    assert said and all("stopped or stuck" in why for _, why in lost)  # at offer (queue full) or at close


def test_an_exit_without_close_does_not_hang_on_a_stopped_worker(tmp_path):
    # multiprocessing's own exit handler joins its children without a timeout (a guard: on Linux its
    # SIGTERM already ends a stopped child, and the atexit handler kills it before that join anyway)
    program = f"""
import os, select, signal, sys
from monitor.service.trips.worker_process import ProcessSideline
worker = ProcessSideline("tests.test_worker_process:writer", ({str(tmp_path)!r},))
worker.offer({{"name": "first", "pad": ""}})
while not os.path.exists(os.path.join({str(tmp_path)!r}, "first")):
    select.select([], [], [], 0.02)
os.kill(worker.pid, signal.SIGSTOP)
print(worker.pid, flush=True)
sys.exit(0)
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert wait_until(lambda: is_gone(int(done.stdout.split()[0])))


def _worker_of(daemon: DaemonProcess) -> int | None:
    try:
        children = open(f"/proc/{daemon.pid}/task/{daemon.pid}/children").read().split()
    except OSError:
        return None
    for child in children:
        try:
            if b"spawn_main" in open(f"/proc/{child}/cmdline", "rb").read():  # not the resource tracker
                return int(child)
        except OSError:
            continue
    return None


def test_the_daemon_with_a_stopped_record_worker_says_the_record_is_lost_and_stops_on_sigterm(tmp_path):
    config = tmp_path / "treadguard.toml"
    config.write_text(keeper_config(tmp_path))
    watcher = PinWatcher(str(tmp_path / "relay.fifo"))
    daemon = DaemonProcess(str(config), "--keeper-fifo", watcher.path)
    worker = None
    try:
        assert daemon.wait_for("treadguard: running"), daemon.output
        assert wait_until(lambda: _worker_of(daemon) is not None)
        worker = _worker_of(daemon)
        os.kill(worker, signal.SIGSTOP)  # the record writer is stopped, not dead
        daemon.popen.send_signal(signal.SIGUSR1)  # a person arms it
        assert watcher.wait_for(True) is not None, daemon.output
        daemon.popen.send_signal(signal.SIGUSR2)  # the IMU's cable is pulled: a trip
        assert daemon.wait_for("TRIPPED sensor_fault"), daemon.output
        daemon.popen.terminate()  # systemctl stop
        daemon.popen.wait(120)  # bounded: it does not wait for the stopped worker without end
        daemon._reader.join(10)
    finally:
        code = daemon.stop()
        watcher.close()
        if worker is not None and not is_gone(worker):
            os.kill(worker, signal.SIGKILL)
    assert code == 0, daemon.output
    assert "treadguard: trip record lost: the record of the trip at" in daemon.output
    assert "(sensor_fault, " in daemon.output and "): the worker never confirmed writing it" in daemon.output
    assert "Traceback" not in daemon.output
    assert wait_until(lambda: is_gone(worker))
