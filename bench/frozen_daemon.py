"""A frozen daemon: how long after a SIGSTOP is the relay released? Prints the figures.

    python bench/frozen_daemon.py [--runs N] [--frozen-s S]

Each run starts the real daemon (tests.daemon_harness: run_hardware on the MPU-6050's
register-level fake bus and gpiozero's MockFactory, the monotonic clock, default
settings: 100 Hz, a 40 ms lease, relay.drive = "level") with its relay owned by the
relay keeper process, as a real run with the level drive has it. The keeper's relay
is the real GpioRelay on a MockFactory that writes each change of its pin, with the
time, to a FIFO. The script arms the daemon (SIGUSR1), waits for the relay to be
energized, stops the daemon with SIGSTOP for --frozen-s seconds, and reads when the
relay pin went to its released level: that time after the SIGSTOP is the figure. Then
SIGCONT, and it checks the daemon tripped (the trip latches: the relay stays released).

Run it on an otherwise quiet machine; the figure is the lease (40 ms) plus how late the
keeper process is woken, which a busy machine makes longer.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.keeper_support import DaemonProcess, PinWatcher, keeper_config  # noqa: E402


def one_run(folder: Path, frozen_s: float) -> tuple[float, str]:
    """(ms from SIGSTOP to the relay released, the trip line the daemon said when it ran again)."""
    config = folder / "treadguard.toml"
    config.write_text(keeper_config(folder))
    watcher = PinWatcher(str(folder / "relay.fifo"))
    daemon = DaemonProcess(str(config), "--keeper-fifo", watcher.path)
    try:
        if not daemon.wait_for("treadguard: running", 60):
            raise SystemExit(f"the daemon did not start:\n{daemon.output}")
        daemon.popen.send_signal(signal.SIGUSR1)
        if watcher.wait_for(True, 30) is None:
            raise SystemExit(f"the daemon never energized the relay:\n{daemon.output}")
        time.sleep(0.5)  # half a second of normal running
        stopped_s = time.monotonic()
        os.kill(daemon.pid, signal.SIGSTOP)
        released_s = watcher.wait_for(False, frozen_s + 30)
        left_s = stopped_s + frozen_s - time.monotonic()
        if left_s > 0:
            time.sleep(left_s)
        os.kill(daemon.pid, signal.SIGCONT)
        if released_s is None:
            raise SystemExit("the relay was not released while the daemon was stopped")
        daemon.wait_for("TRIPPED", 30)
        trip = next((line.strip() for line in daemon.lines if "TRIPPED" in line), "no trip said")
        if watcher.wait_for(True, 0.5) is not None:
            raise SystemExit("the relay was energized again after the daemon ran again")
        return (released_s - stopped_s) * 1000, trip
    finally:
        daemon.stop()
        watcher.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frozen-s", type=float, default=3.0)
    args = parser.parse_args()
    figures = []
    for k in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            ms, trip = one_run(Path(folder), args.frozen_s)
        figures.append(ms)
        print(f"run {k + 1}: daemon stopped {args.frozen_s:g} s; relay released {ms:.1f} ms after SIGSTOP")
        if k == 0:
            print(f"  when it ran again: {trip[:160]}")
    print(f"relay released after SIGSTOP (level drive + relay keeper, 40 ms lease), {len(figures)} runs: "
          f"median {statistics.median(figures):.1f} ms, worst {max(figures):.1f} ms, best {min(figures):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
