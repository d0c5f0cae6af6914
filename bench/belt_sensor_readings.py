"""Prints what the simulated belt sensor reads for a steady belt, read by a 100 Hz loop.

The sensor is the real pulse driver fed each edge at its true time, so every
reading should be the belt's speed; the figures show the spread and the cost.

    python -m bench.belt_sensor_readings
"""

from __future__ import annotations

import time

from monitor.service.loop.clock import SimulatedClock
from monitor.sim.world import STEPPING, Script, SimBeltSensor, Treadmill, World

SPEEDS_MPS = (0.3, 1.25, 1.7, 3.06, 4.4)
SECONDS = 60.0
RATE_HZ = 100.0


def main() -> None:
    for speed in SPEEDS_MPS:
        clock = SimulatedClock(0.0)
        world = World(Treadmill(), Script(belt_command_mps=lambda t, v=speed: v, activity=lambda t: STEPPING))
        belt = SimBeltSensor(world, clock)
        readings = []
        start = time.perf_counter()
        for k in range(1, int(SECONDS * RATE_HZ) + 1):
            clock.sleep_until(k / RATE_HZ)
            reading = belt.read()
            if reading is not None and k > RATE_HZ:  # the first second: timing starts
                readings.append(reading.speed_mps)
        cpu_s = time.perf_counter() - start
        print(f"belt at {speed:4.2f} m/s, {SECONDS:g} s read at {RATE_HZ:g} Hz: readings "
              f"{min(readings):.4f} to {max(readings):.4f} m/s; {cpu_s * 1e6 / (SECONDS * RATE_HZ):.1f} us a read")


if __name__ == "__main__":
    main()
