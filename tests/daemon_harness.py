"""The real daemon (`treadguard run --config`'s run_hardware) on fake hardware in real time,
as a process of its own for the end-to-end tests: an MPU-6050 on a register-level fake bus,
the pulse belt sensor and the relay on gpiozero's MockFactory, the monotonic clock.

    python -m tests.daemon_harness CONFIG [--belt-mps X] [--belt-when-armed]

What a person at the treadmill does comes in as signals, as on a real Pi: SIGUSR1 arms
(the daemon's own handler, as `systemctl kill -s USR1 treadguard` sends it), SIGUSR2
unplugs the IMU's cable, SIGTERM stops. The belt turns at --belt-mps from the start, or
only once the monitor is armed (--belt-when-armed: the person arms, then starts the belt).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from monitor.cli.run import run_hardware
from monitor.config.load import load_config
from monitor.safety.latch import LatchState
from monitor.service.clock import MonotonicClock
from tests.drivers_support import clocked_factory
from tests.fake_i2c import FakeMpu6050


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--belt-mps", type=float, default=0.0)
    parser.add_argument("--belt-when-armed", action="store_true")
    args = parser.parse_args()
    config = load_config(args.config)
    clock = MonotonicClock()
    bus = FakeMpu6050(clock)
    factory = clocked_factory(clock)
    belt_pin = factory.pin(config.belt.pin)
    belt_pin.drive_high()  # the sensor's pull-up: high between pulses
    belt_on = threading.Event()
    stop = threading.Event()
    if args.belt_mps > 0 and not args.belt_when_armed:
        belt_on.set()

    def belt() -> None:
        period_s = 1.0 / (config.belt.pulses_per_m * args.belt_mps) if args.belt_mps > 0 else 1.0
        while not stop.wait(period_s):
            if belt_on.is_set():
                belt_pin.drive_low()
                belt_pin.drive_high()

    def on_tick(verdict, core) -> None:
        if args.belt_when_armed and verdict.state is LatchState.ARMED:
            belt_on.set()

    signal.signal(signal.SIGUSR2, lambda signum, frame: bus.unplug())
    threading.Thread(target=belt, daemon=True).start()
    try:
        return run_hardware(config, clock=clock, i2c_bus=bus, pin_factory=factory, on_tick=on_tick)
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
