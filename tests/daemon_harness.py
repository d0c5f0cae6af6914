"""The real daemon (`treadguard run --config`'s run_hardware) on fake hardware in real time,
as a process of its own for the end-to-end tests: an MPU-6050 on a register-level fake bus,
the pulse belt sensor and the relay on gpiozero's MockFactory, the monotonic clock.

    python -m tests.daemon_harness CONFIG [--belt-mps X]

What a person at the treadmill does comes in as signals, as on a real Pi: SIGUSR1 arms
(the daemon's own handler, as `systemctl kill -s USR1 treadguard` sends it), SIGUSR2
unplugs the IMU's cable, SIGTERM stops. The belt turns at --belt-mps while the relay is
energized, as a treadmill runs only while its safety-key loop is closed: arming starts
it, a trip stops it.

With --keeper-fifo FIFO, the relay line belongs to the relay keeper process, as in a real run
with the level drive: its relay is the real GpioRelay on a MockFactory of its own, whose pin
changes it writes to FIFO (tests.keeper_support).

With --tick-stats FILE, the loop's own tick hook counts its ticks and the late ones (a tick
that came more than half a period after the one before), and a thread writes the counts to
FILE every 0.2 s: the late ticks as the loop saw them, whatever else is going on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading

from monitor.config.load import load_config
from monitor.service.loop.clock import MonotonicClock
from monitor.service.sessions.on_hardware import run_hardware
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050, G, standing_motion
from tests.keeper_support import WATCHED_RELAY


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--belt-mps", type=float, default=0.0)
    parser.add_argument("--tick-stats", metavar="FILE")
    parser.add_argument("--keeper-fifo", metavar="FIFO",
                        help="the relay keeper owns the relay (tests.keeper_support), its pin's changes go to FIFO")
    parser.add_argument("--walk-s", type=float, default=0.0,
                        help="once armed, the walker steps this long, then stops stepping (a drift)")
    args = parser.parse_args()
    config = load_config(args.config)
    clock = MonotonicClock()
    walking_until = [0.0]

    def motion(t_s: float) -> tuple[float, ...]:
        if t_s >= walking_until[0]:
            return standing_motion(t_s)
        # steps at 1.8 Hz: the vertical force swings 2.5 m/s² about g, the trunk sways a little
        phase = 2 * math.pi * 1.8 * t_s
        return (0.6 * math.sin(phase), 0.4 * math.sin(phase / 2), G + 2.5 * math.sin(phase),
                0.15 * math.sin(phase / 2), 0.1 * math.cos(phase), 0.05 * math.sin(phase / 2))

    bus = FakeMpu6050(clock, motion=motion)
    factory = clocked_factory(clock)
    belt_pin = factory.pin(config.belt.pin)
    belt_pin.drive_high()  # the sensor's pull-up: high between pulses
    belt_on = threading.Event()
    stop = threading.Event()

    def belt() -> None:
        period_s = 1.0 / (config.belt.pulses_per_m * args.belt_mps) if args.belt_mps > 0 else 1.0
        while not stop.wait(period_s):
            if belt_on.is_set():
                belt_pin.drive_low()
                belt_pin.drive_high()

    period_s = 1.0 / config.loop.rate_hz
    counts = {"ticks": 0, "late_ticks": 0, "max_gap_s": 0.0, "last_t_s": None}

    def on_tick(verdict, core) -> None:
        last = counts["last_t_s"]
        if last is not None:
            gap_s = verdict.t_s - last
            if gap_s > 1.5 * period_s:
                counts["late_ticks"] += 1
            if gap_s > counts["max_gap_s"]:
                counts["max_gap_s"] = gap_s
        counts["ticks"] += 1
        counts["last_t_s"] = verdict.t_s
        if verdict.is_relay_energized:
            if not belt_on.is_set() and args.walk_s > 0:
                walking_until[0] = verdict.t_s + args.walk_s
            belt_on.set()
        else:
            belt_on.clear()

    def write_stats() -> None:
        while not stop.wait(0.2):
            temporary = args.tick_stats + ".tmp"
            with open(temporary, "w") as out:
                json.dump({k: v for k, v in counts.items() if k != "last_t_s"}, out)
            os.replace(temporary, args.tick_stats)

    signal.signal(signal.SIGUSR2, lambda signum, frame: bus.unplug())
    threading.Thread(target=belt, daemon=True).start()
    if args.tick_stats:
        threading.Thread(target=write_stats, daemon=True).start()
    try:
        keeper = None
        if args.keeper_fifo:
            keeper = (WATCHED_RELAY, {"pin": config.relay.pin, "report_path": args.keeper_fifo})
        return run_hardware(config, clock=clock, i2c_bus=bus, pin_factory=factory, on_tick=on_tick,
                            relay_keeper=keeper)
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
