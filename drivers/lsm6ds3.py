"""The ST LSM6DS3, LSM6DS3TR-C, LSM6DSOX, LSM6DSO and LSM6DSO32 IMUs over I2C: configure them, read their FIFO, report their health.

Register names as in the LSM6DS3, LSM6DS3TR-C, LSM6DSOX and LSM6DSO32
datasheets. The chips share the control registers used here (CTRL1_XL,
CTRL2_G, CTRL3_C at 0x10-0x12, the same ODR codes) but their FIFOs differ:

* LSM6DS3 (WHO_AM_I 0x69): untagged, 8 KB. FIFO_STATUS1/2 count unread 16-bit
  words (12 bits); with gyro and accel both at the ODR the pattern is Gx Gy Gz
  Ax Ay Az (gyro data set first), each little-endian signed, read from
  FIFO_DATA_OUT_L/H (a burst wraps from 0x3F back to 0x3E). FIFO_STATUS3/4
  give the pattern index of the next word: not 0 means the FIFO is out of step.
* LSM6DS3TR-C (WHO_AM_I 0x6A, often sold as "LSM6DS3"; the LSM6DSL/DSM answer
  0x6A too and have the same FIFO): the same untagged FIFO, 4 KB, an 11-bit
  count (DIFF_FIFO [10:0]) and FIFO_FULL_SMART (FIFO_STATUS2 bit 5). Its
  CTRL1_XL [1:0] and CTRL4_C [7] mean other things than the LSM6DS3's
  bandwidth bits, so its filters stay at the chip's defaults (the kernel's
  st_lsm6dsx groups it with the LSM6DSL: FIFO 4 KB, count mask [10:0]).
* LSM6DSOX (WHO_AM_I 0x6C): tagged. Each FIFO word is 7 bytes read from
  FIFO_DATA_OUT_TAG (0x78) on: a tag byte (TAG_SENSOR [7:3]: 0x01 gyro,
  0x02 accel; TAG_CNT [2:1]: the time slot) and 6 data bytes, little-endian.
  A burst wraps from 0x7E back to 0x78. The order of gyro and accel within a
  time slot is not fixed, so they are paired by TAG_CNT; a pair may straddle
  two reads. In its bootstrap phase after the FIFO starts the chip writes
  words whose values are 0x7FFD or above (its invalid-sample marker; the
  kernel drops them): until a sensor's first valid word they are dropped,
  after it a full-scale value is a real reading and kept.

Which part answers 0x6C. The LSM6DSOX, the LSM6DSO and the LSM6DSO32 all
answer WHO_AM_I 0x6C and share every register used here, but the LSM6DSO32's
accelerometer full-scale codes mean twice the range (FS_XL 00 = 4 g, 01 = 32 g,
10 = 8 g, 11 = 16 g, against 2/16/4/8 g): read as an LSM6DSOX it shows 1 g as
4.9 m/s². No register tells them apart (ST's own Linux driver, st_lsm6dsx,
takes the part from the device tree, not from the chip), so a chip answering
0x6C is refused unless `part` (imu.part) names the part printed on the board.

The gyroscope's turn-on time. After the gyroscope leaves power-down (at start,
and after a reset the driver found) its output is unsettled for up to
GYRO_TURN_ON_S. The FIFO stays in bypass mode until that time has passed, so
no sample from it reaches the loop: at start the driver waits (through `sleep`
or the clock); after a reset found while running, the wait is a phase the
loop's reads step through without waiting, as in the MPU-6050 driver.

A FIFO overrun (FIFO_STATUS2 bit 6), or an untagged FIFO within three samples
of full (the count may be stale by the time the data is read), is reported as
"overflow" and the FIFO reset; the event is reported before the reset, and a
reset that fails on the bus is retried on every read until it works. A bus
error is "read_failed"; control registers back at their reset values
(power-down) are "device_reset". read() never raises.

The low-pass setting: the LSM6DS3's accelerometer anti-aliasing bandwidth is
set from imu.lowpass_hz (BW_XL with XL_BW_SCAL_ODR); its gyroscope, and both
sensors of the LSM6DSOX, keep the chip's default filters tied to the ODR
(about ODR/2 for the accelerometer).
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

# -- registers shared by both chips --------------------------------------------------------
WHO_AM_I = 0x0F
CTRL1_XL = 0x10  # ODR_XL [7:4], FS_XL [3:2]; DS3: BW_XL [1:0]; DSOX: LPF2_XL_EN [1]
CTRL2_G = 0x11  # ODR_G [7:4], FS_G [3:2], FS_125 [1]
CTRL3_C = 0x12  # BOOT [7], BDU [6], IF_INC [2], SW_RESET [0]; resets to 0x04
CTRL4_C = 0x13  # DS3: XL_BW_SCAL_ODR [7]
FIFO_STATUS1 = 0x3A  # DIFF_FIFO [7:0]
FIFO_STATUS2 = 0x3B  # OVER_RUN / FIFO_OVR_IA [6]; DS3: FIFO_EMPTY [4], DIFF_FIFO [11:8];
#                      DS3TR-C: FIFO_FULL_SMART [5], FIFO_EMPTY [4], DIFF_FIFO [10:8]; DSOX: DIFF_FIFO [9:8]
# -- LSM6DS3 only ---------------------------------------------------------------------------
DS3_FIFO_CTRL3 = 0x08  # DEC_FIFO_GYRO [5:3], DEC_FIFO_XL [2:0]
DS3_FIFO_CTRL5 = 0x0A  # ODR_FIFO [6:3], FIFO_MODE [2:0]
DS3_FIFO_DATA_OUT_L = 0x3E
# -- LSM6DSOX only --------------------------------------------------------------------------
DSOX_FIFO_CTRL3 = 0x09  # BDR_GY [7:4], BDR_XL [3:0]
DSOX_FIFO_CTRL4 = 0x0A  # FIFO_MODE [2:0]
DSOX_FIFO_DATA_OUT_TAG = 0x78

# -- bits and codes -------------------------------------------------------------------------
CTRL3_BDU_IF_INC = 0x44
CTRL3_SW_RESET = 0x01
DS3_BW_SCAL_ODR = 0x80
FIFO_OVERRUN = 0x40
TRC_FIFO_FULL_SMART = 0x20
FIFO_MODE_BYPASS = 0b000
FIFO_MODE_CONTINUOUS = 0b110
DS3_NO_DECIMATION = (0b001 << 3) | 0b001
ODR_CODES_HZ = {1: 12.5, 2: 26.0, 3: 52.0, 4: 104.0, 5: 208.0, 6: 416.0, 7: 833.0, 8: 1660.0}
# full scale -> (FS field, sensitivity): accel in mg/LSB, gyro in mdps/LSB
ACCEL_RANGES = {2: (0b00, 0.061), 4: (0b10, 0.122), 8: (0b11, 0.244), 16: (0b01, 0.488)}
DSO32_ACCEL_RANGES = {4: (0b00, 0.122), 8: (0b10, 0.244), 16: (0b11, 0.488), 32: (0b01, 0.976)}  # LSM6DSO32
GYRO_RANGES = {250: (0b00, 8.75), 500: (0b01, 17.5), 1000: (0b10, 35.0), 2000: (0b11, 70.0)}  # 250: the chip's 245
DS3_BW_XL_HZ = {0b00: 400.0, 0b01: 200.0, 0b10: 100.0, 0b11: 50.0}
TAG_GYRO = 0x01
TAG_ACCEL = 0x02

DS3_SAMPLE_FORMAT = "<hhhhhh"  # gx, gy, gz, ax, ay, az: little-endian signed 16-bit
DS3_WORDS_PER_SAMPLE = 6
DS3_FIFO_WORDS = 4096  # 8 kbyte
TRC_FIFO_WORDS = 2048  # 4 kbyte
NEAR_FULL_SAMPLES = 3  # an untagged count this close to full is handled as an overflow
INVALID_SAMPLE = 0x7FFD  # DSOX bootstrap phase: a word at or above this is not a sample
DSOX_WORD_BYTES = 7
DSOX_MAX_WORDS_PER_READ = 512
AXES_FORMAT = "<hhh"

LSM6DS3, LSM6DS3TR_C, LSM6DSOX = 0x69, 0x6A, 0x6C
CHIPS = {LSM6DS3: "LSM6DS3", LSM6DS3TR_C: "LSM6DS3TR-C (or LSM6DSL/LSM6DSM)",
         LSM6DSOX: "LSM6DSOX, LSM6DSO or LSM6DSO32"}
# imu.part -> (the WHO_AM_I it answers, its name, its accelerometer ranges). "auto": the WHO_AM_I
# names the part; only 0x6C is shared by parts that read differently, so it needs the part named.
PARTS = {
    "lsm6dsox": (LSM6DSOX, "LSM6DSOX", ACCEL_RANGES),
    "lsm6dso": (LSM6DSOX, "LSM6DSO", ACCEL_RANGES),
    "lsm6dso32": (LSM6DSOX, "LSM6DSO32", DSO32_ACCEL_RANGES),
}
AMBIGUOUS_WHO_AM_I = LSM6DSOX
DEFAULT_ADDRESS = 0x6A  # SA0 low; 0x6B with SA0 high
RESET_POLLS = 50
# The gyroscope's turn-on time from power-down: up to 80 ms (LSM6DS3 application note AN4650,
# "80 ms max from power down"); the newer parts are quoted at about 70 ms. One figure, the longest.
GYRO_TURN_ON_S = 0.080


class Phase(enum.Enum):
    """Where the chip is after its configuration; only RUNNING delivers samples."""

    STARTING = "starting"  # configured, the FIFO in bypass: waiting GYRO_TURN_ON_S for the gyro
    RUNNING = "running"  # FIFO on


def choose_odr(sample_rate_hz: float) -> int:
    """The ODR code whose rate is nearest to sample_rate_hz (by ratio)."""
    return min(ODR_CODES_HZ, key=lambda code: abs(math.log(ODR_CODES_HZ[code] / sample_rate_hz)))


class Lsm6ds3(FifoImu):
    """An LSM6DS3-family IMU read through its FIFO; times from its sample clock. Owns `bus`."""

    DEFAULT_ADDRESS = DEFAULT_ADDRESS

    def __init__(self, bus: Any, clock: Clock, *, address: int = DEFAULT_ADDRESS,
                 sample_rate_hz: float = 200.0, lowpass_hz: float = 42.0,
                 accel_full_scale_g: int = 16, gyro_full_scale_dps: int = 2000,
                 reset_check_s: float = 0.5, accel_bias_mps2: Sequence[float] = (0.0, 0.0, 0.0),
                 gyro_bias_radps: Sequence[float] = (0.0, 0.0, 0.0), sleep: Sleep | None = None,
                 part: str = "auto") -> None:
        if part != "auto" and part not in PARTS:
            raise ValueError(f"part must be \"auto\" or one of {sorted(PARTS)}, not {part!r}")
        accel_ranges = PARTS[part][2] if part in PARTS else ACCEL_RANGES
        if accel_full_scale_g not in accel_ranges:
            raise ValueError(f"accel_full_scale_g must be one of {sorted(accel_ranges)} for this part, "
                             f"not {accel_full_scale_g}")
        if gyro_full_scale_dps not in GYRO_RANGES:
            raise ValueError(f"gyro_full_scale_dps must be one of {sorted(GYRO_RANGES)}, not {gyro_full_scale_dps}")
        self._init_common(bus, clock, address=address, reset_check_s=reset_check_s,
                          accel_bias_mps2=accel_bias_mps2, gyro_bias_radps=gyro_bias_radps, sleep=sleep)
        self.unpaired_words = 0

        self.who_am_i = self._identify()
        self.chip = self._which_part(part)
        self.is_dsox = self.who_am_i == LSM6DSOX
        self.is_trc = self.who_am_i == LSM6DS3TR_C
        self.fifo_words = TRC_FIFO_WORDS if self.is_trc else DS3_FIFO_WORDS
        self._count_high_mask = 0x07 if self.is_trc else 0x0F  # DIFF_FIFO [10:8] or [11:8]
        self.invalid_words = 0
        self.odr_code = choose_odr(sample_rate_hz)
        self.sample_rate_hz = ODR_CODES_HZ[self.odr_code]
        fs_xl, accel_mg = accel_ranges[accel_full_scale_g]
        fs_g, gyro_mdps = GYRO_RANGES[gyro_full_scale_dps]
        # The one place raw counts become SI units.
        self.accel_mps2_per_lsb = accel_mg * 1e-3 * STANDARD_GRAVITY_MPS2
        self.gyro_radps_per_lsb = gyro_mdps * 1e-3 * DEG_TO_RAD
        ctrl1 = (self.odr_code << 4) | (fs_xl << 2)
        ctrl4 = 0
        if self.is_dsox or self.is_trc:
            self.lowpass_hz = self.sample_rate_hz / 2
        else:
            bw = min(DS3_BW_XL_HZ, key=lambda c: abs(math.log(DS3_BW_XL_HZ[c] / lowpass_hz)))
            self.lowpass_hz = DS3_BW_XL_HZ[bw]
            ctrl1 |= bw
            ctrl4 = DS3_BW_SCAL_ODR
        self._ctrl = bytes([ctrl1, (self.odr_code << 4) | (fs_g << 2), CTRL3_BDU_IF_INC, ctrl4])
        self._fifo_ctrl_reg = DSOX_FIFO_CTRL4 if self.is_dsox else DS3_FIFO_CTRL5
        fifo_rate = 0 if self.is_dsox else self.odr_code << 3
        self._fifo_ctrl = fifo_rate | FIFO_MODE_CONTINUOUS
        self._pending: dict[int, list[Any]] = {}  # DSOX: TAG_CNT -> [accel, gyro] waiting for its pair
        self._pending_cnt: int | None = None
        self._bootstrapping = {TAG_ACCEL: True, TAG_GYRO: True}  # DSOX: no valid word of this sensor yet
        self._is_resync_due = False  # the FIFO must be reset before it is read again
        self._sample_clock = SampleClock(1.0 / self.sample_rate_hz, clock())
        self._phase = Phase.STARTING
        self._phase_until_s = clock()
        # Start-up, waiting here (before the loop runs) for the gyroscope to settle.
        self._configure()
        self._wait(GYRO_TURN_ON_S)
        self._start_fifo()
        self._start_reset_checks()

    @classmethod
    def _options(cls, section: Any) -> dict[str, Any]:
        return {"part": section.part}

    # -- start-up ------------------------------------------------------------------------
    def _identify(self) -> int:
        where = f"I2C address 0x{self.address:02X}"
        try:
            who = i2c.read_byte(self._bus, self.address, WHO_AM_I)
        except OSError as err:
            raise ChipError(
                f"no LSM6DS3/LSM6DSOX answers at {where} ({err}): check the cable and its wiring "
                f"(SDA to GPIO 2, SCL to GPIO 3, VCC, GND), and the address (0x6A, or 0x6B with SA0 "
                f"high: imu.i2c_address); `i2cdetect -y 1` lists what answers") from None
        if who not in CHIPS:
            known = ", ".join(f"0x{k:02X} {v}" for k, v in CHIPS.items())
            raise ChipError(
                f"the chip at {where} answers WHO_AM_I (0x0F) = 0x{who:02X}, which is not a chip this "
                f"driver knows ({known}): check the wiring and the address (0x6A, or 0x6B with SA0 high), "
                f"and that imu.driver names the chip on the board (an MPU-6050 answers 0x68 at "
                f"register 0x75: imu.driver = \"mpu6050\")")
        return who

    def _which_part(self, part: str) -> str:
        """The part: named by WHO_AM_I, or by `part` where WHO_AM_I cannot tell; refused otherwise."""
        where = f"I2C address 0x{self.address:02X}"
        if part == "auto":
            if self.who_am_i == AMBIGUOUS_WHO_AM_I:
                raise ChipError(
                    f"the chip at {where} answers WHO_AM_I 0x{self.who_am_i:02X}, which the LSM6DSOX, the "
                    f"LSM6DSO and the LSM6DSO32 all answer, and no register tells them apart; the LSM6DSO32 "
                    f"measures twice the range on the same codes (read as an LSM6DSOX, 1 g shows as "
                    f"4.9 m/s²): read the part number on the chip or the board's listing and set imu.part "
                    f"= \"lsm6dsox\", \"lsm6dso\" or \"lsm6dso32\"")
            return CHIPS[self.who_am_i]
        who, name, _ranges = PARTS[part]
        if self.who_am_i != who:
            raise ChipError(
                f"imu.part = \"{part}\" names an {name}, which answers WHO_AM_I 0x{who:02X}, but the chip at "
                f"{where} answers 0x{self.who_am_i:02X} ({CHIPS[self.who_am_i]}): set imu.part = \"auto\" "
                f"for that chip, or check that the board carries the part you named")
        return name

    def _configure(self) -> None:
        bus, a = self._bus, self.address
        i2c.write_byte(bus, a, CTRL3_C, CTRL3_SW_RESET)  # every register to its reset value
        for _ in range(RESET_POLLS):  # SW_RESET clears itself when done (tens of microseconds)
            try:
                if not i2c.read_byte(bus, a, CTRL3_C) & CTRL3_SW_RESET:
                    break
            except OSError:
                continue
        else:
            raise ChipError(f"the {self.chip} did not finish its reset: check the 3.3 V supply and the cable")
        i2c.write_byte(bus, a, CTRL3_C, self._ctrl[2])
        i2c.write_byte(bus, a, CTRL1_XL, self._ctrl[0])
        i2c.write_byte(bus, a, CTRL2_G, self._ctrl[1])
        i2c.write_byte(bus, a, CTRL4_C, self._ctrl[3])
        if self.is_dsox:
            i2c.write_byte(bus, a, DSOX_FIFO_CTRL3, (self.odr_code << 4) | self.odr_code)  # BDR_GY, BDR_XL
        else:
            i2c.write_byte(bus, a, DS3_FIFO_CTRL3, DS3_NO_DECIMATION)
        # The FIFO stays in bypass (as the reset left it) until the gyroscope has settled.
        i2c.write_byte(bus, a, self._fifo_ctrl_reg, (self._fifo_ctrl & ~0x07) | FIFO_MODE_BYPASS)
        check = i2c.read_block(bus, a, CTRL1_XL, 4)
        if check != self._ctrl:
            raise ChipError(f"the {self.chip} at 0x{a:02X} did not keep its configuration (wrote "
                            f"{self._ctrl.hex()}, read {check.hex()}): check the cable and the 3.3 V supply")
        self._phase = Phase.STARTING
        self._phase_until_s = self._clock() + GYRO_TURN_ON_S

    def _start_fifo(self) -> None:
        """The gyroscope has settled: start the FIFO (a failed start is retried by the next read)."""
        self._phase = Phase.RUNNING
        self._reset_fifo()

    def _reset_fifo(self) -> None:
        """Empty the FIFO and start it again; until this has worked, no FIFO data is trusted."""
        bus, a = self._bus, self.address
        self._is_resync_due = True
        i2c.write_byte(bus, a, self._fifo_ctrl_reg, (self._fifo_ctrl & ~0x07) | FIFO_MODE_BYPASS)  # empties it
        i2c.write_byte(bus, a, self._fifo_ctrl_reg, self._fifo_ctrl)
        self._pending.clear()
        self._pending_cnt = None
        self._bootstrapping = {TAG_ACCEL: True, TAG_GYRO: True}
        self._sample_clock.restart(self._clock())
        self._is_resync_due = False

    # -- the loop's read ---------------------------------------------------------------------
    def _read_fifo(self, batch: ImuBatch) -> None:
        if self._phase is Phase.STARTING:
            if self._clock() >= self._phase_until_s:  # the gyroscope has settled
                self._start_fifo()
            return
        if self._is_resync_due:  # a reset that failed; the loss was reported when it happened
            self._reset_fifo()
            return
        if self.is_dsox:
            self._read_tagged(batch)
        else:
            self._read_untagged(batch)

    def _overflow(self, batch: ImuBatch, now_s: float, detail: str) -> None:
        self.overflows += 1
        batch.health.append(HealthEvent(now_s, OVERFLOW, f"{self.chip} FIFO {detail}: samples lost; FIFO reset"))
        self._reset_fifo()

    def _read_untagged(self, batch: ImuBatch) -> None:
        bus, a = self._bus, self.address
        s1, s2, s3, s4 = i2c.read_block(bus, a, FIFO_STATUS1, 4)
        now_s = self._clock()
        words = ((s2 & self._count_high_mask) << 8) | s1
        pattern = ((s4 & 0x03) << 8) | s3
        is_full = self.is_trc and s2 & TRC_FIFO_FULL_SMART  # its 11-bit count reads 0 when full
        if s2 & FIFO_OVERRUN or is_full or words >= self.fifo_words - NEAR_FULL_SAMPLES * DS3_WORDS_PER_SAMPLE:
            self._overflow(batch, now_s, f"overran or nearly full ({words} of {self.fifo_words} words queued)")
            return
        if pattern != 0:  # the next word is not a gyro x: out of step, words were lost
            self._overflow(batch, now_s, f"out of step (next word is pattern index {pattern})")
            return
        n = words // DS3_WORDS_PER_SAMPLE
        if n == 0:
            return
        data = i2c.read_block(bus, a, DS3_FIFO_DATA_OUT_L, n * 2 * DS3_WORDS_PER_SAMPLE)
        ka = self.accel_mps2_per_lsb
        kg = self.gyro_radps_per_lsb
        bax, bay, baz = self.accel_bias_mps2
        bgx, bgy, bgz = self.gyro_bias_radps
        append = batch.samples.append
        times = self._sample_clock.stamp(n, now_s)
        for t_s, (gx, gy, gz, ax, ay, az) in zip(times, struct.iter_unpack(DS3_SAMPLE_FORMAT, data)):
            append(ImuSample(t_s, ax * ka - bax, ay * ka - bay, az * ka - baz,
                             gx * kg - bgx, gy * kg - bgy, gz * kg - bgz))

    def _read_tagged(self, batch: ImuBatch) -> None:
        bus, a = self._bus, self.address
        s1, s2 = i2c.read_block(bus, a, FIFO_STATUS1, 2)
        now_s = self._clock()
        if s2 & FIFO_OVERRUN:
            self._overflow(batch, now_s, "overran")
            return
        words = min(((s2 & 0x03) << 8) | s1, DSOX_MAX_WORDS_PER_READ)
        if words == 0:
            return
        data = i2c.read_block(bus, a, DSOX_FIFO_DATA_OUT_TAG, words * DSOX_WORD_BYTES)
        ka = self.accel_mps2_per_lsb
        kg = self.gyro_radps_per_lsb
        bax, bay, baz = self.accel_bias_mps2
        bgx, bgy, bgz = self.gyro_bias_radps
        complete: list[tuple[float, ...]] = []
        pending = self._pending
        for i in range(0, len(data), DSOX_WORD_BYTES):
            tag = data[i]
            sensor = tag >> 3
            if sensor not in (TAG_ACCEL, TAG_GYRO):
                continue  # not batched by this driver (timestamp, temperature)
            axes = struct.unpack_from(AXES_FORMAT, data, i + 1)
            if self._bootstrapping[sensor]:
                if max(axes) >= INVALID_SAMPLE:
                    self.invalid_words += 1  # the bootstrap phase's invalid-sample marker
                    continue
                self._bootstrapping[sensor] = False
            cnt = (tag >> 1) & 0x03
            if self._pending_cnt is not None and cnt != self._pending_cnt:
                # the slot moved on without its pair: the partner word was lost
                self.unpaired_words += sum(v is not None for v in pending.get(self._pending_cnt, []))
                pending.pop(self._pending_cnt, None)
            self._pending_cnt = cnt
            slot = pending.setdefault(cnt, [None, None])
            slot[0 if sensor == TAG_ACCEL else 1] = axes
            if slot[0] is not None and slot[1] is not None:
                (ax, ay, az), (gx, gy, gz) = slot
                complete.append((ax * ka - bax, ay * ka - bay, az * ka - baz,
                                 gx * kg - bgx, gy * kg - bgy, gz * kg - bgz))
                del pending[cnt]
                self._pending_cnt = None
        times = self._sample_clock.stamp(len(complete), now_s)
        batch.samples.extend(ImuSample(t_s, *values) for t_s, values in zip(times, complete))

    def _check_reset(self, batch: ImuBatch) -> bool:
        """True (and the chip configured again) when it lost its configuration."""
        if self._phase is not Phase.RUNNING or self._is_resync_due:
            return False  # settling, or a FIFO reset still to finish: the FIFO control register is not set yet
        bus, a = self._bus, self.address
        ctrl = i2c.read_block(bus, a, CTRL1_XL, 4)
        fifo_ctrl = i2c.read_byte(bus, a, self._fifo_ctrl_reg)
        if ctrl == self._ctrl and fifo_ctrl == self._fifo_ctrl:
            return False
        self.resets += 1
        batch.health.append(HealthEvent(
            self._clock(), DEVICE_RESET,
            f"{self.chip} reset itself (CTRL1_XL..CTRL4_C {ctrl.hex()}, FIFO control 0x{fifo_ctrl:02X}; "
            f"expected {self._ctrl.hex()}, 0x{self._fifo_ctrl:02X}); configured again, samples "
            f"resume once its gyroscope has settled ({GYRO_TURN_ON_S * 1000:.0f} ms)"))
        self._configure()
        return True

    def _power_down(self) -> None:
        i2c.write_byte(self._bus, self.address, CTRL1_XL, 0)  # accelerometer power-down
        i2c.write_byte(self._bus, self.address, CTRL2_G, 0)  # gyroscope power-down
