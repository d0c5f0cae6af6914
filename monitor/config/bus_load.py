"""The IMU's I2C bus time per loop tick, estimated from the chip, the rates and the bus speed.

Each loop tick reads the chip's FIFO over I2C; the read blocks the loop for as
long as the bytes take on the wire. Too many bytes per tick on a slow bus (a
long tether at 100 kHz, a fast sample rate) and the read alone eats the tick:
the loop runs late and trips, or worse, runs on with little margin. So the
expected bus time is worked out before anything is opened, and a configuration
that needs more than half of the loop's period is refused with what to change:
by the configuration check itself (monitor.config.load), so `config --check`,
`check` and `run` give the same answer on the same machine.

The price of a transaction on the wire, as bench/imu_bus.py counts it: a read is
START, address+W, the register, repeated START, address+R, the data bytes, STOP;
every byte is 9 bit times (8 bits and an ACK), each START/STOP one. The per-read
transactions of each driver are listed below; tests check them against the
register-level fake buses' transaction logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

MAX_BUS_SHARE = 0.5  # the IMU read may take at most this share of a loop period
ASSUMED_BUS_HZ = 100_000  # standard-mode I2C: what a bus runs at when nothing says otherwise

# Per chip: the bytes of each read the driver makes on every tick besides the data, and the
# bytes per sample of the FIFO data itself (read in one burst per tick).
_TICK_READS = {"mpu6050": (1, 2), "lsm6ds3": (4,), "lsm6dsox": (2,)}
_SAMPLE_BYTES = {"mpu6050": 12, "lsm6ds3": 12, "lsm6dsox": 14}


def read_bits(data_bytes: int) -> int:
    """Bit times of one register read of `data_bytes` bytes."""
    return 1 + 2 * 9 + 1 + (1 + data_bytes) * 9 + 1


@dataclass(frozen=True)
class BusLoad:
    chip: str
    bus_hz: float
    bus_hz_source: str
    samples_per_tick: int  # at most, in a tick
    bus_s_per_tick: float
    period_s: float
    chip_rate_hz: float = 0.0  # the rate the chip really samples at
    sample_rate_hz: float = 0.0  # imu.sample_rate_hz as configured

    @property
    def data_share(self) -> float:
        """The share of the bus the chip's samples alone take, whatever the loop does."""
        return self.chip_rate_hz * _SAMPLE_BYTES[self.chip] * 9 / self.bus_hz

    @property
    def share(self) -> float:
        return self.bus_s_per_tick / self.period_s

    @property
    def is_too_high(self) -> bool:
        return self.share > MAX_BUS_SHARE

    def describe(self) -> str:
        return (f"IMU bus time per tick: {self.bus_s_per_tick * 1000:.2f} ms of the {self.period_s * 1000:.1f} ms "
                f"period ({self.share:.0%}; {self.chip}, up to {self.samples_per_tick} samples a tick, "
                f"I2C at {self.bus_hz / 1000:g} kHz {self.bus_hz_source})")

    def refusal(self) -> str:
        rates = (f"imu.sample_rate_hz = {self.sample_rate_hz:g} (the chip samples at {self.chip_rate_hz:.4g} Hz) and "
                 f"loop.rate_hz = {1 / self.period_s:g} on an I2C bus at {self.bus_hz / 1000:g} kHz "
                 f"{self.bus_hz_source}".rstrip())
        faster = ("run the bus faster (dtparam=i2c_arm_baudrate=400000 in /boot/firmware/config.txt, then "
                  "imu.i2c_bus_hz = 400000 if it cannot be read from the system) and shorten the tether")
        loop_hz = 1 / self.period_s
        fits = [f"imu.sample_rate_hz = {hz:g}" for hz in _fitting(_chip_rates(self.chip), lambda hz: estimate(
            self.chip, sample_rate_hz=hz, loop_rate_hz=loop_hz, bus_hz=self.bus_hz))]
        fits += [f"loop.rate_hz = {hz:g}" for hz in _fitting(_LOOP_RATES_HZ, lambda hz: estimate(
            self.chip, sample_rate_hz=self.sample_rate_hz, loop_rate_hz=hz, bus_hz=self.bus_hz))]
        lower = (f"Set {', or '.join(f + ' or lower' for f in fits)} (the highest that fits)" if fits
                 else "No lower rate fits this bus")
        if self.data_share > MAX_BUS_SHARE:
            overflow = ", so its FIFO would overflow" if self.data_share > 1 else ""
            return (f"{rates}: the chip's samples alone need {self.data_share:.0%} of the bus{overflow}, more than "
                    f"the {MAX_BUS_SHARE:.0%} the IMU may take whatever the loop does. {lower}, or {faster}")
        return (f"{rates}: the IMU's reads take {self.bus_s_per_tick * 1000:.2f} ms of each "
                f"{self.period_s * 1000:.1f} ms tick ({self.share:.0%}, more than {MAX_BUS_SHARE:.0%}), so the loop "
                f"would spend its tick waiting on the bus. {lower}, or {faster}")


_LOOP_RATES_HZ = (1000.0, 500.0, 400.0, 250.0, 200.0, 100.0, 50.0, 20.0)  # within loop.rate_hz's bounds
_MIN_SAMPLE_RATE_HZ = 50.0  # imu.sample_rate_hz's lower bound


def _chip_rates(chip: str) -> list[float]:
    """The rates the chip can run at, within imu.sample_rate_hz's bounds, fastest first."""
    if chip == "mpu6050":
        rates = [1000.0 / (1 + n) for n in range(20)]
    else:
        rates = sorted(_LSM6DS_RATES_HZ, reverse=True)
    return [round(r, 1) for r in rates if _MIN_SAMPLE_RATE_HZ <= r <= 1000.0]


def _fitting(candidates, load_at) -> list[float]:
    """The highest candidate (fastest first) whose load fits, as a list of at most one."""
    for hz in candidates:
        load = load_at(hz)
        if not load.is_too_high and load.data_share <= MAX_BUS_SHARE:
            return [hz]
    return []


_LSM6DS_RATES_HZ = (12.5, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)


def chip_rate_hz(chip: str, sample_rate_hz: float) -> float:
    """The rate the chip really runs at for a configured rate (as the drivers pick it)."""
    if chip == "mpu6050":
        return 1000.0 / (1 + max(0, round(1000.0 / sample_rate_hz) - 1))
    return min(_LSM6DS_RATES_HZ, key=lambda r: abs(r - sample_rate_hz))


def estimate(chip: str, *, sample_rate_hz: float, loop_rate_hz: float, bus_hz: float,
             bus_hz_source: str = "") -> BusLoad:
    """The bus time of the worst tick: the most samples a tick can find queued."""
    rate_hz = chip_rate_hz(chip, sample_rate_hz)
    samples = math.ceil(rate_hz / loop_rate_hz - 1e-9)
    bits = sum(read_bits(n) for n in _TICK_READS[chip]) + read_bits(samples * _SAMPLE_BYTES[chip])
    return BusLoad(chip, bus_hz, bus_hz_source, samples, bits / bus_hz, 1.0 / loop_rate_hz, rate_hz, sample_rate_hz)


def chip_of(driver: str, who: str = "") -> str:
    """The bus model for a configured driver (the LSM6DS driver serves both chips; the DSOX's tagged
    FIFO is the costlier, so it is assumed until the chip is known)."""
    if driver == "mpu6050":
        return "mpu6050"
    return who or "lsm6dsox"


def system_bus_hz(bus: int, root: Path = Path("/")) -> tuple[float | None, str]:
    """The I2C bus speed the kernel runs, where the system says: the bcm2835 driver's parameter,
    or the device tree's clock-frequency of that adapter."""
    param = root / "sys/module/i2c_bcm2835/parameters/baudrate"
    try:
        return float(int(param.read_text().strip())), f"(from {param.relative_to(root)})"
    except (OSError, ValueError):
        pass
    node = root / f"sys/class/i2c-adapter/i2c-{bus}/of_node/clock-frequency"
    try:
        raw = node.read_bytes()
        if len(raw) == 4:
            return float(int.from_bytes(raw, "big")), f"(from {node.relative_to(root)})"
    except OSError:
        pass
    return None, ""


def check_config(config, *, root: Path = Path("/")) -> BusLoad | None:
    """The bus load of a config's IMU, with the bus speed from imu.i2c_bus_hz, else the system,
    else standard mode; None when the IMU is not on I2C (a fake)."""
    imu = config.imu
    if imu.driver not in ("mpu6050", "lsm6ds3"):
        return None
    declared = getattr(imu, "i2c_bus_hz", 0)
    if declared:
        bus_hz, source = float(declared), "(imu.i2c_bus_hz)"
    else:
        found, source = system_bus_hz(imu.i2c_bus, root)
        bus_hz, source = (found, source) if found else (float(ASSUMED_BUS_HZ), "(assumed: the system does not say)")
    return estimate(chip_of(imu.driver), sample_rate_hz=imu.sample_rate_hz, loop_rate_hz=config.loop.rate_hz,
                    bus_hz=bus_hz, bus_hz_source=source)
