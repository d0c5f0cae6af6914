"""Register-level fake I2C buses for the IMU drivers: MPU-6050 family and LSM6DS3/DSOX.

Each fake is an smbus2.SMBus look-alike (read_byte_data, write_byte_data,
read_i2c_block_data, i2c_rdwr, close) holding one chip that follows its
datasheet for the registers the drivers use: WHO_AM_I, the configuration
registers with their reset values, a sample clock that runs at the configured
rate (times an optional rate error) on the test's clock and fills a FIFO of the
chip's size in the chip's byte order, overflow flags, a reset bit, and a power
glitch that puts every register back to its reset value. Bus failures are
injected per transaction (OSError 121, "Remote I/O error", as a NACK gives):
the next n transactions, the nth write to one register, or a burst read that
fails after k bytes already left the FIFO (ETIMEDOUT mid-transfer). A read of
one register can be followed by a stall (the reading process preempted), during
which the chip keeps sampling, so the count read before it is stale.
Every transaction is logged with its byte counts, for the bus-time figures.
"""

from __future__ import annotations

import ctypes
import math
import struct
from typing import Callable, Sequence

from smbus2 import i2c_msg

G = 9.80665
Motion = Callable[[float], Sequence[float]]


def standing_motion(t_s: float) -> tuple[float, ...]:
    """A person standing still: gravity on z, a little sway so no channel freezes."""
    return (0.05 * math.sin(7.0 * t_s), 0.04 * math.cos(5.0 * t_s), G + 0.03 * math.sin(3.0 * t_s),
            0.02 * math.sin(4.0 * t_s), 0.015 * math.cos(6.0 * t_s), 0.01 * math.sin(2.0 * t_s))


def _nack(what: str) -> OSError:
    return OSError(121, f"Remote I/O error ({what})")


class FakeI2cChip:
    """What every fake chip shares: the bus methods, failure injection, the log."""

    FIFO_PORTS: tuple[int, ...] = ()  # registers that do not auto-increment on a burst read
    WRAPS: dict[int, int] = {}  # burst reads past the key register go back to the value
    FIFO_DATA: tuple[int, ...] = ()  # where a FIFO burst read starts

    def __init__(self, clock: Callable[[], float], address: int) -> None:
        self.clock = clock
        self.address = address
        self.regs = bytearray(128)
        self.fifo = bytearray()
        self.log: list[tuple[int, int]] = []  # (bytes written incl. register, bytes read) per transaction
        self._fail_next = 0
        self.is_unplugged = False
        self.is_closed = False
        self.writes: list[tuple[int, int]] = []
        self._fail_writes: dict[int, int] = {}  # register -> writes to it still to pass before one fails
        self._fail_burst_after: int | None = None
        self._stalls: dict[int, float] = {}  # register -> seconds the reader stalls after reading it

    # -- failure injection -------------------------------------------------------------
    def fail_next(self, n: int = 1) -> None:
        """The next n transactions fail (NACK)."""
        self._fail_next += n

    def fail_write(self, register: int, nth: int = 1) -> None:
        """The nth write to register from now on fails (NACK), after the ones before it went through."""
        self._fail_writes[register] = nth

    def fail_fifo_read_after(self, k: int) -> None:
        """The next read of the FIFO's data port longer than k bytes takes k bytes out of the
        chip, then fails (the transfer timed out part-way)."""
        self._fail_burst_after = k

    def stall_after_reading(self, register: int, seconds: float) -> None:
        """The next read of register is followed by `seconds` of the reader not running: the
        test clock moves on and the chip keeps sampling before the next transaction."""
        self._stalls[register] = seconds

    def _after_read(self, register: int) -> None:
        stall = self._stalls.pop(register, None)
        if stall is not None:
            self.clock.t_s += stall

    def unplug(self) -> None:
        self.is_unplugged = True

    def replug(self) -> None:
        self.is_unplugged = False

    def _transaction(self, address: int, wrote: int, read: int) -> None:
        if self.is_unplugged:
            raise _nack("nothing answers: unplugged")
        if self._fail_next > 0:
            self._fail_next -= 1
            raise _nack("injected")
        if address != self.address:
            raise _nack(f"no device at 0x{address:02X}")
        self.log.append((wrote, read))
        self.advance(self.clock())

    # -- the bus methods ---------------------------------------------------------------
    def read_byte_data(self, address: int, register: int, force=None) -> int:
        self._transaction(address, 1, 1)
        value = self._read_burst(register, 1)[0]
        self._after_read(register)
        return value

    def write_byte_data(self, address: int, register: int, value: int, force=None) -> None:
        self._transaction(address, 2, 0)
        if register in self._fail_writes:
            self._fail_writes[register] -= 1
            if self._fail_writes[register] == 0:
                del self._fail_writes[register]
                raise _nack(f"injected on the write to 0x{register:02X}")
        self.writes.append((register, value))
        self.write_register(register, value & 0xFF)

    def read_i2c_block_data(self, address: int, register: int, length: int, force=None) -> list[int]:
        if length > 32:
            raise ValueError("Desired block length over 32 bytes")  # as smbus2 does
        self._transaction(address, 1, length)
        self._maybe_break(register, length)
        data = list(self._read_burst(register, length))
        self._after_read(register + length - 1)
        return data

    def i2c_rdwr(self, *msgs: i2c_msg) -> None:
        if len(msgs) != 2 or msgs[0].flags != 0 or msgs[0].len != 1 or not msgs[1].flags & 0x0001:
            raise NotImplementedError("the fake only knows write-register-then-read transactions")
        register = bytes(msgs[0])[0]
        self._transaction(msgs[0].addr, 1, msgs[1].len)
        self._maybe_break(register, msgs[1].len)
        data = self._read_burst(register, msgs[1].len)
        ctypes.memmove(msgs[1].buf, data, len(data))

    def _maybe_break(self, register: int, length: int) -> None:
        k = self._fail_burst_after
        if k is not None and length > k and register in self.FIFO_DATA:
            self._fail_burst_after = None
            self._read_burst(register, k)  # these bytes left the chip before the transfer broke
            raise OSError(110, "Connection timed out (injected mid-transfer)")

    def close(self) -> None:
        self.is_closed = True

    # -- register behaviour --------------------------------------------------------------
    def _read_burst(self, register: int, length: int) -> bytes:
        out = bytearray()
        for _ in range(length):
            out.append(self.read_register(register) & 0xFF)
            if register in self.FIFO_PORTS:
                continue
            register = self.WRAPS.get(register, register + 1)
        return bytes(out)

    def read_register(self, register: int) -> int:
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        self.regs[register] = value

    def advance(self, now_s: float) -> None:
        """Run the chip's sample clock up to now_s."""

    def raw(self, value: float, per_lsb: float) -> int:
        return max(-32768, min(32767, round(value / per_lsb)))


class FakeMpu6050(FakeI2cChip):
    """An MPU-6050 (or, by WHO_AM_I, a 6500-family part) on a fake bus."""

    SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG, ACCEL_CONFIG2 = 0x19, 0x1A, 0x1B, 0x1C, 0x1D
    FIFO_EN, INT_ENABLE, INT_STATUS, USER_CTRL, PWR_MGMT_1 = 0x23, 0x38, 0x3A, 0x6A, 0x6B
    FIFO_COUNTH, FIFO_COUNTL, FIFO_R_W, WHO_AM_I = 0x72, 0x73, 0x74, 0x75
    FIFO_PORTS = (0x74,)
    FIFO_DATA = (0x74,)
    RESET_VALUES = {0x6B: 0x40}  # PWR_MGMT_1: asleep; every other register used here resets to 0
    ACCEL_LSB_PER_G = (16384.0, 8192.0, 4096.0, 2048.0)
    GYRO_LSB_PER_DPS = (131.0, 65.5, 32.8, 16.4)
    RESET_S = 0.1  # after DEVICE_RESET the chip acknowledges nothing for this long (the kernel waits 100 ms)
    GYRO_STARTUP_S = {0x68: 0.06, 0x72: 0.06}  # the 6500 family: 70 ms (the kernel's *_GYRO_STARTUP_TIME)
    GYRO_OUT_OF_SPEC_RADPS = 3.0  # what a gyro sample taken too early reads off by
    ICM20689 = 0x98

    def __init__(self, clock, *, who_am_i: int = 0x68, address: int = 0x68, motion: Motion = standing_motion,
                 rate_error: float = 0.0, fifo_bytes: int | None = None, has_fifo_size_bits: bool = True) -> None:
        super().__init__(clock, address)
        self.who_am_i = who_am_i
        self.motion = motion
        self.rate_error = rate_error
        self._fixed_fifo_bytes = fifo_bytes
        # An ICM-20689 has ACCEL_CONFIG2.FIFO_SIZE; a clone that also answers 0x98 does not.
        self.has_fifo_size_bits = has_fifo_size_bits and who_am_i == self.ICM20689
        self.is_6500 = who_am_i not in (0x68, 0x72)
        self.gyro_startup_s = self.GYRO_STARTUP_S.get(who_am_i, 0.07)
        self.samples_made = 0
        self.samples_lost = 0
        self.bad_gyro_samples = 0  # samples pushed with an out-of-spec gyro reading
        self._next_t: float | None = None
        self._resetting_until = -math.inf
        self._awake_s: float | None = None  # when SLEEP was last cleared
        self._first_after_enable = False
        self._first_since_wake = False
        self.power_glitch()

    @property
    def fifo_bytes(self) -> int:
        """The ICM-20689's FIFO is 512 bytes unless ACCEL_CONFIG2.FIFO_SIZE [7:6] asks for up to 4 KB."""
        if self._fixed_fifo_bytes:
            return self._fixed_fifo_bytes
        if self.who_am_i == self.ICM20689:
            return 512 << (self.regs[self.ACCEL_CONFIG2] >> 6)
        return 1024 if self.who_am_i in (0x68, 0x72) else 512

    def _transaction(self, address: int, wrote: int, read: int) -> None:
        if address == self.address and self.clock() < self._resetting_until:
            raise _nack("still resetting")
        super()._transaction(address, wrote, read)

    def power_glitch(self) -> None:
        """A brown-out: every register back to its reset value, the FIFO empty."""
        self.regs = bytearray(128)
        for register, value in self.RESET_VALUES.items():
            self.regs[register] = value
        self.regs[self.WHO_AM_I] = self.who_am_i
        self.fifo = bytearray()
        self._next_t = None
        self._awake_s = None

    # -- the sample clock ------------------------------------------------------------------
    def rate_hz(self) -> float:
        dlpf = self.regs[self.CONFIG] & 0x07
        internal = 1000.0 if 1 <= dlpf <= 6 else 8000.0
        return internal / (1 + self.regs[self.SMPLRT_DIV]) * (1 + self.rate_error)

    def _is_sampling(self) -> bool:
        return not self.regs[self.PWR_MGMT_1] & 0x40 and bool(self.regs[self.USER_CTRL] & 0x40)

    def advance(self, now_s: float) -> None:
        if not self._is_sampling():
            self._next_t = None
            return
        period = 1.0 / self.rate_hz()
        if self._next_t is None:
            self._next_t = now_s + period
            return
        if self._next_t > now_s:
            return
        due = int((now_s - self._next_t) / period) + 1
        room = self.fifo_bytes // 12 + 2
        if due > room:  # far more than fits: only the last ones matter
            self.samples_lost += due - room
            self._next_t += (due - room) * period
            self.regs[self.INT_STATUS] |= 0x10
            due = room
        for _ in range(due):
            self._push(self._next_t)
            self._next_t += period

    def _push(self, t_s: float) -> None:
        self.samples_made += 1
        ax, ay, az, gx, gy, gz = self.motion(t_s)
        # The gyro is out of spec before its start-up time has passed, and its first sample
        # after the FIFO starts is too (the kernel skips it).
        early = self._awake_s is None or t_s - self._awake_s < self.gyro_startup_s
        if early or self._first_after_enable:
            self.bad_gyro_samples += 1
            gx, gy, gz = (v + self.GYRO_OUT_OF_SPEC_RADPS for v in (gx, gy, gz))
        self._first_after_enable = False
        fifo_en = self.regs[self.FIFO_EN]
        a_per = G / self.ACCEL_LSB_PER_G[(self.regs[self.ACCEL_CONFIG] >> 3) & 3]
        g_per = (math.pi / 180.0) / self.GYRO_LSB_PER_DPS[(self.regs[self.GYRO_CONFIG] >> 3) & 3]
        data = b""
        if fifo_en & 0x08:
            data += struct.pack(">hhh", self.raw(ax, a_per), self.raw(ay, a_per), self.raw(az, a_per))
        if fifo_en & 0x80:
            data += struct.pack(">h", 1234)  # temperature
        for bit, value in ((0x40, gx), (0x20, gy), (0x10, gz)):
            if fifo_en & bit:
                data += struct.pack(">h", self.raw(value, g_per))
        if len(self.fifo) + len(data) > self.fifo_bytes:
            self.regs[self.INT_STATUS] |= 0x10  # FIFO_OFLOW_INT
            self.samples_lost += 1
            if self.is_6500 and self.regs[self.CONFIG] & 0x40:
                return  # FIFO_MODE = 1: a full FIFO takes no more
            self.fifo += data
            del self.fifo[:len(self.fifo) - self.fifo_bytes]  # the oldest bytes go: misaligned
            return
        self.fifo += data

    # -- registers ---------------------------------------------------------------------------
    def read_register(self, register: int) -> int:
        if register == self.INT_STATUS:
            value = self.regs[register]
            self.regs[register] = 0  # cleared by reading
            return value
        if register == self.FIFO_COUNTH:
            return len(self.fifo) >> 8
        if register == self.FIFO_COUNTL:
            return len(self.fifo) & 0xFF
        if register == self.FIFO_R_W:
            if not self.fifo:
                return 0xFF
            value = self.fifo[0]
            del self.fifo[0]
            return value
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        if register in (self.WHO_AM_I, self.INT_STATUS, self.FIFO_COUNTH, self.FIFO_COUNTL):
            return  # read-only
        if register == self.PWR_MGMT_1 and value & 0x80:
            self.power_glitch()  # DEVICE_RESET: every register to its reset value
            self._resetting_until = self.clock() + self.RESET_S
            return
        if register == self.PWR_MGMT_1:
            if value & 0x40:
                self._awake_s = None
            elif self._awake_s is None:
                self._awake_s = self.clock()
                self._first_since_wake = True
        if register == self.USER_CTRL:
            if value & 0x04:
                self.fifo = bytearray()  # FIFO_RESET, self-clearing
            if value & 0x40 and self._first_since_wake:
                self._first_after_enable = True
                self._first_since_wake = False
            value &= ~0x04 & 0xFF
            self.regs[register] = value
            self.advance(self.clock())
            return
        if register == self.FIFO_R_W:
            return
        if register == self.ACCEL_CONFIG2 and not self.has_fifo_size_bits:
            value &= 0x3F
        self.regs[register] = value


class FakeLsm6ds(FakeI2cChip):
    """An LSM6DS3 (WHO_AM_I 0x69, untagged 8 KB FIFO, 12-bit count), an LSM6DS3TR-C (0x6A,
    untagged 4 KB FIFO, 11-bit count, FIFO_FULL_SMART) or an LSM6DSOX (0x6C, tagged FIFO,
    with the invalid-sample marker 0x7FFD..0x7FFF in its first `bootstrap_samples` slots
    after the FIFO starts) on a fake bus. `is_dso32` makes the 0x6C chip an LSM6DSO32: the same
    registers, but its FS_XL codes mean 4/32/8/16 g. Every part's gyroscope is out of spec for
    GYRO_TURN_ON_S after it leaves power-down (CTRL2_G's ODR_G from 0, or a reset)."""

    WHO_AM_I, CTRL1_XL, CTRL2_G, CTRL3_C, CTRL4_C = 0x0F, 0x10, 0x11, 0x12, 0x13
    FIFO_STATUS1, FIFO_STATUS2, FIFO_STATUS3, FIFO_STATUS4 = 0x3A, 0x3B, 0x3C, 0x3D
    # LSM6DS3
    DS3_FIFO_CTRL3, DS3_FIFO_CTRL5, DS3_FIFO_DATA_OUT_L, DS3_FIFO_DATA_OUT_H = 0x08, 0x0A, 0x3E, 0x3F
    # LSM6DSOX
    DSOX_FIFO_CTRL3, DSOX_FIFO_CTRL4, DSOX_FIFO_DATA_OUT_TAG = 0x09, 0x0A, 0x78
    ODR_HZ = {1: 12.5, 2: 26.0, 3: 52.0, 4: 104.0, 5: 208.0, 6: 416.0, 7: 833.0, 8: 1660.0}
    ACCEL_MG_PER_LSB = {0: 0.061, 1: 0.488, 2: 0.122, 3: 0.244}  # FS_XL 00 2 g, 01 16 g, 10 4 g, 11 8 g
    DSO32_ACCEL_MG_PER_LSB = {0: 0.122, 1: 0.976, 2: 0.244, 3: 0.488}  # 00 4 g, 01 32 g, 10 8 g, 11 16 g
    GYRO_TURN_ON_S = 0.070  # what the field measured: about 70 ms of unsettled gyro samples
    GYRO_OUT_OF_SPEC_RADPS = 3.0  # what a gyro sample taken too early reads off by
    GYRO_MDPS_PER_LSB = {0: 8.75, 1: 17.5, 2: 35.0, 3: 70.0}  # FS_G 245, 500, 1000, 2000 dps

    def __init__(self, clock, *, who_am_i: int = 0x69, address: int = 0x6A, motion: Motion = standing_motion,
                 rate_error: float = 0.0, fifo_words: int | None = None, bootstrap_samples: int = 0,
                 invalid_marker: int = 0x7FFD, is_dso32: bool = False) -> None:
        super().__init__(clock, address)
        self.who_am_i = who_am_i
        self.is_dso32 = is_dso32 and who_am_i == 0x6C
        self.bad_gyro_samples = 0  # samples pushed with an out-of-spec gyro reading
        self._gyro_on_s: float | None = None  # when the gyroscope last left power-down
        self.is_dsox = who_am_i == 0x6C
        self.is_trc = who_am_i == 0x6A
        self.motion = motion
        self.rate_error = rate_error
        # FIFO depth in 16-bit words (DS3: 8 kbyte, DS3TR-C: 4 kbyte) or in 7-byte tagged words (DSOX: 9 kbyte)
        self.fifo_words = fifo_words or (1280 if self.is_dsox else 2048 if self.is_trc else 4096)
        self.bootstrap_samples = bootstrap_samples
        self.invalid_marker = invalid_marker
        self.invalid_words_made = 0
        self._since_start = 0  # slots pushed since the FIFO last started
        self.words: list[bytes] = []  # DS3: 2-byte words; DSOX: 7-byte tagged words
        self.is_overrun = False
        self._next_t: float | None = None
        self._tag_cnt = 0
        self._read_index = 0  # DS3: the FIFO_PATTERN of the next word
        self._partial: bytes = b""
        self.samples_made = 0
        self.FIFO_PORTS = ()
        self.FIFO_DATA = (0x78,) if self.is_dsox else (0x3E,)
        self.WRAPS = {0x3F: 0x3E} if not self.is_dsox else {0x7E: 0x78}
        self.power_glitch()

    def power_glitch(self) -> None:
        self.regs = bytearray(128)
        self.regs[self.WHO_AM_I] = self.who_am_i
        self.regs[self.CTRL3_C] = 0x04  # IF_INC
        self._gyro_on_s = None  # CTRL2_G back to 0: the gyroscope is powered down
        self.words = []
        self.is_overrun = False
        self._next_t = None
        self._read_index = 0
        self._partial = b""

    def _fifo_mode(self) -> int:
        return self.regs[self.DS3_FIFO_CTRL5 if not self.is_dsox else self.DSOX_FIFO_CTRL4] & 0x07

    def _rate_hz(self) -> float:
        odr_xl = self.regs[self.CTRL1_XL] >> 4
        odr_g = self.regs[self.CTRL2_G] >> 4
        if self.is_dsox:
            ctrl3 = self.regs[self.DSOX_FIFO_CTRL3]
            if (ctrl3 & 0x0F) != odr_xl or (ctrl3 >> 4) != odr_g:
                return 0.0  # the fake only models batching both at their ODR
        else:
            if (self.regs[self.DS3_FIFO_CTRL5] >> 3) & 0x0F != odr_xl or self.regs[self.DS3_FIFO_CTRL3] != 0x09:
                return 0.0  # ... and the DS3's FIFO at the ODR, no decimation
        if odr_xl != odr_g or odr_xl not in self.ODR_HZ:
            return 0.0
        return self.ODR_HZ[odr_xl] * (1 + self.rate_error)

    def advance(self, now_s: float) -> None:
        rate = self._rate_hz()
        if rate <= 0 or self._fifo_mode() != 0b110:  # continuous mode
            self._next_t = None
            return
        period = 1.0 / rate
        if self._next_t is None:
            self._next_t = now_s + period
            return
        while self._next_t <= now_s:
            self._push(self._next_t)
            self._next_t += period

    def _push(self, t_s: float) -> None:
        self.samples_made += 1
        ax, ay, az, gx, gy, gz = self.motion(t_s)
        if self._gyro_on_s is None or t_s - self._gyro_on_s < self.GYRO_TURN_ON_S:
            self.bad_gyro_samples += 1
            gx, gy, gz = (v + self.GYRO_OUT_OF_SPEC_RADPS for v in (gx, gy, gz))
        mg_per_lsb = self.DSO32_ACCEL_MG_PER_LSB if self.is_dso32 else self.ACCEL_MG_PER_LSB
        a_per = mg_per_lsb[(self.regs[self.CTRL1_XL] >> 2) & 3] * 1e-3 * G
        g_per = self.GYRO_MDPS_PER_LSB[(self.regs[self.CTRL2_G] >> 2) & 3] * 1e-3 * math.pi / 180.0
        accel = struct.pack("<hhh", self.raw(ax, a_per), self.raw(ay, a_per), self.raw(az, a_per))
        gyro = struct.pack("<hhh", self.raw(gx, g_per), self.raw(gy, g_per), self.raw(gz, g_per))
        if self.is_dsox:
            if self._since_start < self.bootstrap_samples:
                accel = gyro = struct.pack("<hhh", *[self.invalid_marker] * 3)
                self.invalid_words_made += 2
            self._since_start += 1
            cnt = self._tag_cnt
            self._tag_cnt = (cnt + 1) & 3
            # the order of the two sensors within one time slot is not fixed
            first, second = ((0x01, gyro), (0x02, accel)) if self.samples_made % 3 else ((0x02, accel), (0x01, gyro))
            new = [bytes([(first[0] << 3) | (cnt << 1)]) + first[1], bytes([(second[0] << 3) | (cnt << 1)]) + second[1]]
        else:
            data = gyro + accel  # the DS3's pattern: gyro data set, then accel
            new = [data[i:i + 2] for i in range(0, 12, 2)]
        self.words += new
        if len(self.words) > self.fifo_words:
            del self.words[:len(self.words) - self.fifo_words]  # continuous mode: the oldest go
            self.is_overrun = True
            if not self.is_dsox:
                self._read_index = (self._read_index + len(new)) % 6

    def _count(self) -> int:
        return len(self.words)

    def read_register(self, register: int) -> int:
        if register == self.FIFO_STATUS1:
            return self._count() & 0xFF
        if register == self.FIFO_STATUS2:
            if self.is_dsox:
                return (0x40 if self.is_overrun else 0) | ((self._count() >> 8) & 0x03)
            if self.is_trc:  # FIFO_FULL_SMART [5]; an 11-bit count, which reads 0 when all 2048 words are full
                return ((0x40 if self.is_overrun else 0) | (0x20 if self._count() >= self.fifo_words else 0)
                        | (0x10 if not self.words else 0) | ((self._count() >> 8) & 0x07))
            return ((0x40 if self.is_overrun else 0) | (0x10 if not self.words else 0)
                    | ((self._count() >> 8) & 0x0F))
        if not self.is_dsox and register == self.FIFO_STATUS3:
            return self._read_index & 0xFF
        if not self.is_dsox and register == self.FIFO_STATUS4:
            return 0
        if not self.is_dsox and register in (self.DS3_FIFO_DATA_OUT_L, self.DS3_FIFO_DATA_OUT_H):
            if not self.words:
                return 0
            word = self.words[0]
            if register == self.DS3_FIFO_DATA_OUT_L:
                return word[0]
            self.words.pop(0)
            self._read_index = (self._read_index + 1) % 6
            return word[1]
        if self.is_dsox and self.DSOX_FIFO_DATA_OUT_TAG <= register <= 0x7E:
            if not self.words:
                return 0
            index = register - self.DSOX_FIFO_DATA_OUT_TAG
            value = self.words[0][index]
            if index == 6:
                self.words.pop(0)
            return value
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        if register == self.WHO_AM_I or self.FIFO_STATUS1 <= register <= self.FIFO_STATUS4:
            return
        if register == self.CTRL3_C and value & 0x01:  # SW_RESET
            self.power_glitch()
            return
        if register == self.CTRL2_G:
            if value >> 4 == 0:
                self._gyro_on_s = None  # ODR_G 0: power-down
            elif self.regs[register] >> 4 == 0:
                self._gyro_on_s = self.clock()  # leaves power-down: its turn-on time starts
        fifo_ctrl = self.DSOX_FIFO_CTRL4 if self.is_dsox else self.DS3_FIFO_CTRL5
        if register == fifo_ctrl and value & 0x07 == 0:  # bypass mode empties the FIFO
            self.words = []
            self.is_overrun = False
            self._read_index = 0
            self._since_start = 0
        self.regs[register] = value
        self.advance(self.clock())
