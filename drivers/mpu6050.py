"""The InvenSense MPU-6050 family IMU over I2C: configure it, read its FIFO, report its health.

Covers the MPU-6050 (GY-521 boards), MPU-6500, MPU-9250/9255 and the common
clones, which share the register map used here (register names as in the
MPU-6000/6050 Register Map rev 4.2 and the MPU-6500/9250 register maps).

How a read goes (one loop tick):
  1. INT_STATUS (1 byte): FIFO_OFLOW_INT means the FIFO overflowed and lost
     samples; the FIFO is then reset (an overflowing FIFO drops bytes, not whole
     samples, so what is left is misaligned) and an "overflow" event reported.
  2. FIFO_COUNTH/L (2 bytes, big-endian), then the monitor clock is read.
  3. FIFO_R_W: every whole 12-byte sample in one burst (accel x, y, z then gyro
     x, y, z, each big-endian signed 16 bits), through i2c_rdwr when over 32
     bytes. Each sample is timed by drivers.sample_clock from its place in the
     chip's sample sequence.
     A count within three samples of full is treated as an overflow too (as
     the Linux kernel's inv_mpu6050 does): the count can be stale by the time
     the data is read, and a FIFO that overflowed in between is misaligned.
  4. Every imu.reset_check_s: PWR_MGMT_1, USER_CTRL and the four config
     registers are read back; a chip asleep again or with its configuration
     lost reset itself (brown-out on the cable): "device_reset" is reported and
     the chip is reset and configured again.
A bus error (OSError) anywhere is reported as "read_failed"; read() never raises.
A FIFO read that fails part-way may already have taken bytes out of the FIFO,
so what is left no longer starts on a sample: it is reported as "overflow"
(samples lost) and the FIFO is reset before the next read, as the kernel does.
A reset of the FIFO that itself fails is retried on every read until it works.

Start-up follows the kernel: DEVICE_RESET, 100 ms for the chip to come back,
wake and configure it, wait the gyro start-up time (60 ms, 6500 family 70 ms),
start the FIFO and drop its first sample (the gyro's first sample is out of
spec). At construction these waits go through `sleep` (or the clock's
sleep_until); when the loop finds a chip that reset itself, the same steps run
across ticks (Phase), so the loop itself never waits on the IMU.
"""

from __future__ import annotations

import enum
import math
import struct
from typing import Any, Callable, Sequence

from drivers import i2c
from drivers.fifo_imu import ChipError, FifoImu, Sleep
from drivers.interfaces import DEVICE_RESET, OVERFLOW, HealthEvent, ImuBatch, ImuSample
from drivers.sample_clock import SampleClock

Clock = Callable[[], float]
STANDARD_GRAVITY_MPS2 = 9.80665
DEG_TO_RAD = math.pi / 180.0

# -- registers (datasheet names) -----------------------------------------------------------
SMPLRT_DIV = 0x19  # sample rate = internal rate / (1 + SMPLRT_DIV)
CONFIG = 0x1A  # DLPF_CFG [2:0]; on the 6500 family FIFO_MODE [6]
GYRO_CONFIG = 0x1B  # FS_SEL [4:3]
ACCEL_CONFIG = 0x1C  # AFS_SEL [4:3]
ACCEL_CONFIG2 = 0x1D  # 6500 family only: A_DLPFCFG [2:0], ACCEL_FCHOICE_B [3]; ICM-20689: FIFO_SIZE [7:6]
FIFO_EN = 0x23  # TEMP_FIFO_EN [7], XG [6], YG [5], ZG [4], ACCEL [3]
INT_ENABLE = 0x38  # FIFO_OFLOW_EN [4]
INT_STATUS = 0x3A  # FIFO_OFLOW_INT [4], DATA_RDY_INT [0]; cleared by reading
USER_CTRL = 0x6A  # FIFO_EN [6], FIFO_RESET [2]
PWR_MGMT_1 = 0x6B  # DEVICE_RESET [7], SLEEP [6], CLKSEL [2:0]; resets to 0x40 (asleep)
FIFO_COUNTH = 0x72  # FIFO_COUNTH, FIFO_COUNTL: bytes in the FIFO, big-endian
FIFO_R_W = 0x74  # the FIFO's read port
WHO_AM_I = 0x75

# -- bits ----------------------------------------------------------------------------------
FIFO_EN_ACCEL_GYRO = 0x40 | 0x20 | 0x10 | 0x08  # XG, YG, ZG and ACCEL into the FIFO
FIFO_OFLOW = 0x10  # INT_ENABLE.FIFO_OFLOW_EN and INT_STATUS.FIFO_OFLOW_INT
USER_CTRL_FIFO_EN = 0x40
USER_CTRL_FIFO_RESET = 0x04
PWR_DEVICE_RESET = 0x80
PWR_SLEEP = 0x40
CLKSEL_PLL_GYRO_X = 0x01  # the PLL on the X gyro: more stable than the internal 8 MHz oscillator
FS_SHIFT = 3
FS_MASK = 0x18
DLPF_MASK = 0x07

SAMPLE_FORMAT = ">hhhhhh"  # accel x, y, z, gyro x, y, z: big-endian signed 16-bit
SAMPLE_BYTES = struct.calcsize(SAMPLE_FORMAT)  # 12
INTERNAL_RATE_HZ = 1000.0  # the gyro output rate with the DLPF on (DLPF_CFG 1..6)
MAX_DIVIDER = 255

# WHO_AM_I values this driver accepts, and what they are. The clones answer with
# their own value but keep the MPU-6050 register map for everything used here.
KNOWN_CHIPS = {
    0x68: "MPU-6050 (or MPU-6000)",
    0x70: "MPU-6500",
    0x71: "MPU-9250",
    0x73: "MPU-9255",
    0x72: "MPU-6050 clone (answers 0x72)",
    0x98: "MPU-6050 clone or ICM-20689 (answers 0x98)",
}
SIX_FIVE_HUNDRED_FAMILY = {0x70, 0x71, 0x73, 0x98}  # has ACCEL_CONFIG2 and FIFO_MODE
FIFO_BYTES = {0x68: 1024, 0x72: 1024}  # the 6500 family: 512
ICM20689 = 0x98
ICM20689_FIFO_SIZE_4K = 0xC0  # ACCEL_CONFIG2.FIFO_SIZE = 11: 4 KB (the kernel's INV_ICM20689_BITS_FIFO_SIZE_MAX)
ICM20689_FIFO_BYTES = 4096  # when FIFO_SIZE kept its 11; a clone answering 0x98 keeps 0 and has 512
DEFAULT_ADDRESS = 0x68  # AD0 low; 0x69 with AD0 high

# Waits (the kernel's INV_MPU6050_POWER_UP_TIME and *_GYRO_STARTUP_TIME).
RESET_S = 0.100  # DEVICE_RESET until the chip answers again
GYRO_STARTUP_S = 0.060  # MPU-6050: wake until the gyro is in spec
GYRO_STARTUP_6500_S = 0.070  # the 6500 family
SKIP_FIRST_SAMPLES = 1  # "gyro first sample is out of specs"
NEAR_FULL_SAMPLES = 3  # a count this close to full is handled as an overflow
WAKE_ATTEMPTS = 5

# Full-scale ranges: the register field and the datasheet's sensitivity.
ACCEL_RANGES = {2: (0, 16384.0), 4: (1, 8192.0), 8: (2, 4096.0), 16: (3, 2048.0)}  # g: (AFS_SEL, LSB/g)
GYRO_RANGES = {250: (0, 131.0), 500: (1, 65.5), 1000: (2, 32.8), 2000: (3, 16.4)}  # dps: (FS_SEL, LSB/(deg/s))
# DLPF_CFG -> bandwidth in Hz (gyro; the MPU-6050's accel bandwidths are within 10 % of these).
DLPF_BANDWIDTHS_HZ = {1: 188.0, 2: 98.0, 3: 42.0, 4: 20.0, 5: 10.0, 6: 5.0}


def choose_divider(sample_rate_hz: float) -> int:
    """SMPLRT_DIV for the rate nearest to sample_rate_hz."""
    return max(0, min(MAX_DIVIDER, round(INTERNAL_RATE_HZ / sample_rate_hz) - 1))


def choose_dlpf(lowpass_hz: float) -> int:
    """DLPF_CFG whose bandwidth is nearest to lowpass_hz (by ratio)."""
    return min(DLPF_BANDWIDTHS_HZ, key=lambda cfg: abs(math.log(DLPF_BANDWIDTHS_HZ[cfg] / lowpass_hz)))


class Phase(enum.Enum):
    """Where the chip is in its start-up; only RUNNING delivers samples."""

    RESETTING = "resetting"  # DEVICE_RESET written, waiting RESET_S
    STARTING = "starting"  # configured, waiting for the gyro start-up time
    RUNNING = "running"  # FIFO on


class Mpu6050(FifoImu):
    """An MPU-6050-family IMU read through its FIFO; times from its sample clock.

    The driver owns `bus` and closes it on close(). Construction identifies and
    configures the chip and raises ChipError (an OSError) with what to check.
    """

    DEFAULT_ADDRESS = DEFAULT_ADDRESS

    def __init__(self, bus: Any, clock: Clock, *, address: int = DEFAULT_ADDRESS,
                 sample_rate_hz: float = 200.0, lowpass_hz: float = 42.0,
                 accel_full_scale_g: int = 16, gyro_full_scale_dps: int = 2000,
                 reset_check_s: float = 0.5, accel_bias_mps2: Sequence[float] = (0.0, 0.0, 0.0),
                 gyro_bias_radps: Sequence[float] = (0.0, 0.0, 0.0), sleep: Sleep | None = None) -> None:
        if accel_full_scale_g not in ACCEL_RANGES:
            raise ValueError(f"accel_full_scale_g must be one of {sorted(ACCEL_RANGES)}, not {accel_full_scale_g}")
        if gyro_full_scale_dps not in GYRO_RANGES:
            raise ValueError(f"gyro_full_scale_dps must be one of {sorted(GYRO_RANGES)}, not {gyro_full_scale_dps}")
        self._init_common(bus, clock, address=address, reset_check_s=reset_check_s,
                          accel_bias_mps2=accel_bias_mps2, gyro_bias_radps=gyro_bias_radps, sleep=sleep)
        self.divider = choose_divider(sample_rate_hz)
        self.sample_rate_hz = INTERNAL_RATE_HZ / (1 + self.divider)
        self.dlpf_cfg = choose_dlpf(lowpass_hz)
        self.lowpass_hz = DLPF_BANDWIDTHS_HZ[self.dlpf_cfg]
        afs_sel, accel_lsb_per_g = ACCEL_RANGES[accel_full_scale_g]
        fs_sel, gyro_lsb_per_dps = GYRO_RANGES[gyro_full_scale_dps]
        # The one place raw counts become SI units.
        self.accel_mps2_per_lsb = STANDARD_GRAVITY_MPS2 / accel_lsb_per_g
        self.gyro_radps_per_lsb = DEG_TO_RAD / gyro_lsb_per_dps
        self._config_bytes = bytes([self.divider, self.dlpf_cfg, fs_sel << FS_SHIFT, afs_sel << FS_SHIFT])

        self.who_am_i = self._identify()
        self.chip = KNOWN_CHIPS[self.who_am_i]
        self._is_6500 = self.who_am_i in SIX_FIVE_HUNDRED_FAMILY
        self.gyro_startup_s = GYRO_STARTUP_6500_S if self._is_6500 else GYRO_STARTUP_S
        self._set_fifo_bytes(FIFO_BYTES.get(self.who_am_i, 512))
        self._sample_clock = SampleClock(1.0 / self.sample_rate_hz, clock())
        self._skip = 0  # samples still to drop after the FIFO started
        self.skipped_samples = 0
        self._is_resync_due = False  # the FIFO must be reset before it is read again
        # Start-up, waiting here (before the loop runs).
        self._begin_reset()
        self._wait(RESET_S)
        self._configure(wake_attempts=WAKE_ATTEMPTS)
        self._wait(self.gyro_startup_s)
        self._start_fifo()
        self._start_reset_checks()

    def _set_fifo_bytes(self, fifo_bytes: int) -> None:
        self.fifo_bytes = fifo_bytes
        # Never read more than the FIFO can hold; a count above it is garbage.
        self._max_read = (fifo_bytes // SAMPLE_BYTES) * SAMPLE_BYTES
        self._near_full = fifo_bytes - NEAR_FULL_SAMPLES * SAMPLE_BYTES

    # -- start-up ------------------------------------------------------------------------
    def _identify(self) -> int:
        where = f"I2C address 0x{self.address:02X}"
        try:
            who = i2c.read_byte(self._bus, self.address, WHO_AM_I)
        except OSError as err:
            raise ChipError(
                f"no MPU-6050-family IMU answers at {where} ({err}): check the cable and its "
                f"wiring (SDA to GPIO 2, SCL to GPIO 3, VCC, GND), and the address "
                f"(0x68, or 0x69 with AD0 high: imu.i2c_address); `i2cdetect -y 1` lists what answers") from None
        if who not in KNOWN_CHIPS:
            known = ", ".join(f"0x{k:02X} {v}" for k, v in KNOWN_CHIPS.items())
            raise ChipError(
                f"the chip at {where} answers WHO_AM_I = 0x{who:02X}, which is not an MPU-6050-family "
                f"IMU this driver knows ({known}): check the wiring and the address (0x68, or 0x69 "
                f"with AD0 high), and that imu.driver names the chip on the board "
                f"(an LSM6DS3 answers 0x69 at register 0x0F: imu.driver = \"lsm6ds3\")")
        return who

    def _begin_reset(self) -> None:
        """DEVICE_RESET: every register to its reset value. The chip then takes up to 100 ms,
        during which it may not acknowledge, and comes back asleep."""
        i2c.write_byte(self._bus, self.address, PWR_MGMT_1, PWR_DEVICE_RESET)
        self._phase = Phase.RESETTING
        self._phase_until_s = self._clock() + RESET_S

    def _configure(self, wake_attempts: int) -> None:
        """Wake the chip after its reset and set rate, filter and ranges (the FIFO stays off)."""
        bus, a = self._bus, self.address
        self._wake(wake_attempts)
        i2c.write_byte(bus, a, SMPLRT_DIV, self._config_bytes[0])
        config = self._config_bytes[1]
        if self._is_6500:
            config |= 0x40  # FIFO_MODE: a full FIFO stops taking samples instead of overwriting
            accel_config2 = self.dlpf_cfg  # A_DLPFCFG, ACCEL_FCHOICE_B = 0
            if self.who_am_i == ICM20689:
                accel_config2 |= ICM20689_FIFO_SIZE_4K
            i2c.write_byte(bus, a, ACCEL_CONFIG2, accel_config2)
            if self.who_am_i == ICM20689:
                # An ICM-20689 keeps FIFO_SIZE; a clone answering 0x98 has no such bits and 512 bytes.
                kept = i2c.read_byte(bus, a, ACCEL_CONFIG2) & ICM20689_FIFO_SIZE_4K == ICM20689_FIFO_SIZE_4K
                self._set_fifo_bytes(ICM20689_FIFO_BYTES if kept else 512)
        i2c.write_byte(bus, a, CONFIG, config)
        self._config_bytes = bytes([self._config_bytes[0], config]) + self._config_bytes[2:]
        i2c.write_byte(bus, a, GYRO_CONFIG, self._config_bytes[2])
        i2c.write_byte(bus, a, ACCEL_CONFIG, self._config_bytes[3])
        i2c.write_byte(bus, a, INT_ENABLE, FIFO_OFLOW)
        i2c.write_byte(bus, a, FIFO_EN, FIFO_EN_ACCEL_GYRO)
        check = i2c.read_block(bus, a, SMPLRT_DIV, 4)
        if check != self._config_bytes:
            raise ChipError(
                f"the {self.chip} at 0x{a:02X} did not keep its configuration (wrote "
                f"{self._config_bytes.hex()}, read {check.hex()}): check the cable and the 3.3 V supply")
        self._phase = Phase.STARTING
        self._phase_until_s = self._clock() + self.gyro_startup_s

    def _wake(self, attempts: int) -> None:
        last: OSError | None = None
        for attempt in range(attempts):
            if attempt:
                self._wait(0.01)
            try:
                i2c.write_byte(self._bus, self.address, PWR_MGMT_1, CLKSEL_PLL_GYRO_X)
                if i2c.read_byte(self._bus, self.address, PWR_MGMT_1) == CLKSEL_PLL_GYRO_X:
                    return
            except OSError as err:  # still resetting: it does not acknowledge yet
                last = err
        raise ChipError(f"the {self.chip} did not wake after a reset "
                        f"({last or 'PWR_MGMT_1 kept its sleep bit'}): check the 3.3 V supply and the cable")

    def _start_fifo(self) -> None:
        self._reset_fifo()
        self._skip = SKIP_FIRST_SAMPLES
        self._phase = Phase.RUNNING

    def _reset_fifo(self) -> None:
        """Empty the FIFO and start it again; until this has worked, no FIFO data is trusted."""
        bus, a = self._bus, self.address
        self._is_resync_due = True
        i2c.write_byte(bus, a, USER_CTRL, USER_CTRL_FIFO_RESET)  # FIFO off and emptied
        i2c.write_byte(bus, a, USER_CTRL, USER_CTRL_FIFO_EN)
        i2c.read_byte(bus, a, INT_STATUS)  # clear a stale overflow flag
        self._sample_clock.restart(self._clock())
        self._is_resync_due = False

    def _samples_lost(self, batch: ImuBatch, now_s: float, detail: str) -> None:
        """Report lost samples, then reset the FIFO (the event is in the batch even if the reset fails)."""
        self.overflows += 1
        batch.health.append(HealthEvent(now_s, OVERFLOW, f"{self.chip} {detail}: samples lost; FIFO reset"))
        self._reset_fifo()

    def _step_start_up(self) -> None:
        """One step of the start-up after a reset the loop found, taken once its wait has passed."""
        if self._clock() < self._phase_until_s:
            return
        if self._phase is Phase.RESETTING:
            self._configure(wake_attempts=1)  # a chip not awake yet fails this tick and is tried again
        elif self._phase is Phase.STARTING:
            self._start_fifo()

    # -- the loop's read ---------------------------------------------------------------------
    def _read_fifo(self, batch: ImuBatch) -> None:
        if self._phase is not Phase.RUNNING:
            self._step_start_up()
            return
        if self._is_resync_due:  # the loss was reported when it happened
            self._reset_fifo()
            return
        bus, a = self._bus, self.address
        status = i2c.read_byte(bus, a, INT_STATUS)
        count_h, count_l = i2c.read_block(bus, a, FIFO_COUNTH, 2)
        now_s = self._clock()
        count = (count_h << 8) | count_l
        # A full FIFO has lost samples (the 6500 family stops taking them, the 6050 overwrites
        # the oldest bytes and flags FIFO_OFLOW_INT); a nearly full one may have by the time
        # the data is read.
        if status & FIFO_OFLOW or count >= self._near_full:
            self._samples_lost(batch, now_s, f"FIFO overflowed or nearly full ({count} of "
                                             f"{self.fifo_bytes} bytes queued)")
            return
        n = min(count, self._max_read) // SAMPLE_BYTES
        if n == 0:
            return
        try:
            data = i2c.read_block(bus, a, FIFO_R_W, n * SAMPLE_BYTES)
        except OSError:
            # Part of the burst may have left the FIFO: what is left no longer starts on a sample.
            self.overflows += 1
            self._is_resync_due = True
            batch.health.append(HealthEvent(
                now_s, OVERFLOW, f"{self.chip} FIFO read broke off part-way: samples lost; FIFO reset"))
            raise
        times = self._sample_clock.stamp(n, now_s)
        ka = self.accel_mps2_per_lsb
        kg = self.gyro_radps_per_lsb
        bax, bay, baz = self.accel_bias_mps2
        bgx, bgy, bgz = self.gyro_bias_radps
        append = batch.samples.append
        raw = struct.iter_unpack(SAMPLE_FORMAT, data)
        if self._skip:  # the first sample after start-up is out of spec
            dropped = min(self._skip, n)
            self._skip -= dropped
            self.skipped_samples += dropped
            times = times[dropped:]
            for _ in range(dropped):
                next(raw)
        for t_s, (ax, ay, az, gx, gy, gz) in zip(times, raw):
            append(ImuSample(t_s, ax * ka - bax, ay * ka - bay, az * ka - baz,
                             gx * kg - bgx, gy * kg - bgy, gz * kg - bgz))

    def _check_reset(self, batch: ImuBatch) -> bool:
        """True (and the chip's reset and start-up begun) when it lost its configuration."""
        if self._phase is not Phase.RUNNING or self._is_resync_due:
            return False  # starting up, or a FIFO reset still to finish: USER_CTRL is not set yet
        bus, a = self._bus, self.address
        user_ctrl, power = i2c.read_block(bus, a, USER_CTRL, 2)
        config = i2c.read_block(bus, a, SMPLRT_DIV, 4)
        if (power & PWR_SLEEP) == 0 and user_ctrl & USER_CTRL_FIFO_EN and config == self._config_bytes:
            return False
        self.resets += 1
        batch.health.append(HealthEvent(
            self._clock(), DEVICE_RESET,
            f"{self.chip} reset itself (PWR_MGMT_1 0x{power:02X}, USER_CTRL 0x{user_ctrl:02X}, "
            f"config {config.hex()}, expected {self._config_bytes.hex()}); reset and configured again"))
        self._begin_reset()
        return True

    def _power_down(self) -> None:
        i2c.write_byte(self._bus, self.address, PWR_MGMT_1, PWR_SLEEP)  # back to sleep: draws ~10 uA
