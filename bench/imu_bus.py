"""Prints the IMU drivers' I2C bus time per second of sampling, and their CPU time per loop tick.

Bus time: the real drivers run for 10 simulated seconds at the default config
(imu.sample_rate_hz, loop.rate_hz) on the register-level fake buses, which log
every transaction. Each transaction is priced in bit times on the wire:
a read is START, address+W, the register, repeated START, address+R, the data
bytes, STOP; a write is START, address+W, register, value, STOP. Every byte is
8 bits plus its ACK/NACK (9 bit times); START, repeated START and STOP count as
one bit time each (the real hold/setup times are about that at 100 and 400 kHz).
The kernel's gaps between transactions are not counted.

CPU time: timeit of one read() (what a loop tick costs the IMU driver) with
the clock advanced one loop period per call, (a) on the fake bus, which also
simulates the chip, and (b) on a canned bus that answers from fixed bytes, so
the figure is the driver's own work.

Run: .venv/bin/python -m bench.imu_bus
"""

from __future__ import annotations

import timeit

from drivers.lsm6ds3 import Lsm6ds3
from drivers.mpu6050 import FIFO_COUNTH, FIFO_R_W, INT_STATUS, Mpu6050
from monitor.config.schema import Config
from monitor.service.loop.clock import SimulatedClock
from tests.fake_i2c import FakeLsm6ds, FakeMpu6050

SECONDS = 10.0


def bits(log: list[tuple[int, int]]) -> int:
    total = 0
    for wrote, read in log:
        if read:
            total += 1 + (1 + wrote) * 9 + 1 + (1 + read) * 9 + 1
        else:
            total += 1 + (1 + wrote) * 9 + 1
    return total


def make(kind: str, clock: SimulatedClock):
    imu = Config().imu
    args = dict(sample_rate_hz=imu.sample_rate_hz, lowpass_hz=imu.lowpass_hz,
                accel_full_scale_g=imu.accel_full_scale_g, gyro_full_scale_dps=imu.gyro_full_scale_dps,
                reset_check_s=imu.reset_check_s)
    if kind == "mpu6050":
        bus = FakeMpu6050(clock)
        return bus, Mpu6050(bus, clock, **args)
    bus = FakeLsm6ds(clock, who_am_i=0x69 if kind == "lsm6ds3" else 0x6C)
    return bus, Lsm6ds3(bus, clock, address=0x6A, part="auto" if kind == "lsm6ds3" else "lsm6dsox", **args)


class CannedMpuBus:
    """Answers the MPU driver's reads from fixed bytes: 2 samples (24 bytes) per read."""

    def __init__(self, regs: bytearray) -> None:
        self.regs = regs
        self.fifo = bytes(range(24))

    def read_byte_data(self, address, register):
        return 0 if register == INT_STATUS else self.regs[register]

    def read_i2c_block_data(self, address, register, length):
        if register == FIFO_COUNTH:
            return [0, 24]
        if register == FIFO_R_W:
            return list(self.fifo[:length])
        return list(self.regs[register:register + length])

    def write_byte_data(self, address, register, value):
        pass

    def close(self):
        pass


def main() -> None:
    loop_s = 1.0 / Config().loop.rate_hz
    print(f"default config: imu.sample_rate_hz = {Config().imu.sample_rate_hz:g}, "
          f"loop.rate_hz = {Config().loop.rate_hz:g}")
    print("\nI2C bus time per second of sampling (all transactions, incl. reset checks):")
    for kind in ("mpu6050", "lsm6ds3", "lsm6dsox"):
        clock = SimulatedClock()
        bus, imu = make(kind, clock)
        bus.log.clear()
        ticks = round(SECONDS / loop_s)
        for _ in range(ticks):
            clock.advance(loop_s)
            imu.read()
        per_s = bits(bus.log) / SECONDS
        n = len(bus.log) / SECONDS
        data = sum(r for _, r in bus.log) / SECONDS
        print(f"  {kind:9s} {imu.sample_rate_hz:6.1f} Hz: {n:5.0f} transactions/s, {data:6.0f} data bytes/s, "
              f"{per_s:7.0f} bit times/s -> {per_s / 100e3 * 1e3:5.1f} ms/s at 100 kHz "
              f"({per_s / 100e3 * 100:4.1f} %), {per_s / 400e3 * 1e3:5.1f} ms/s at 400 kHz "
              f"({per_s / 400e3 * 100:4.1f} %)")

    print("\nCPU time of one IMU read() per loop tick (this machine, timeit):")
    for kind in ("mpu6050", "lsm6ds3", "lsm6dsox"):
        clock = SimulatedClock()
        _, imu = make(kind, clock)

        def tick():
            clock.advance(loop_s)
            imu.read()

        n = 5000
        best = min(timeit.repeat(tick, number=n, repeat=5)) / n
        print(f"  {kind:9s} on the fake bus (driver + simulated chip): {best * 1e6:6.1f} us per tick")
    clock = SimulatedClock()
    bus, imu = make("mpu6050", clock)
    imu._bus = CannedMpuBus(bus.regs)  # the driver's own work: the bus answers instantly

    def canned_tick():
        clock.advance(loop_s)
        imu.read()

    n = 20000
    best = min(timeit.repeat(canned_tick, number=n, repeat=5)) / n
    print(f"  mpu6050   on a canned bus (the driver alone, 2 samples per tick): {best * 1e6:6.1f} us per tick")


if __name__ == "__main__":
    main()
