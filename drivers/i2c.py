"""Register access on an SMBus-compatible bus: bytes, and bursts longer than SMBus allows.

The drivers take their bus as an argument (an `smbus2.SMBus`, or the register-level
fakes in the tests), so this module only needs the bus's public methods:
`read_byte_data`, `write_byte_data`, `read_i2c_block_data` and `i2c_rdwr`.
SMBus block reads stop at 32 bytes; a longer burst goes out as one plain I2C
transaction (write the register address, repeated start, read N bytes) through
`i2c_rdwr`, which the chips' FIFO ports and auto-incrementing registers accept.
"""

from __future__ import annotations

from typing import Any

from smbus2 import i2c_msg

SMBUS_BLOCK_MAX = 32  # bytes in one SMBus block read (I2C_SMBUS_BLOCK_MAX)
BURST_MAX = 4096  # bytes in one i2c_rdwr read; larger reads are split


def open_bus(number: int) -> Any:
    """The real bus /dev/i2c-<number>; OSError names what to check."""
    from smbus2 import SMBus
    try:
        return SMBus(number)
    except (FileNotFoundError, PermissionError) as err:
        raise OSError(
            f"cannot open /dev/i2c-{number} ({err.strerror}): enable I2C "
            f"(`sudo raspi-config nonint do_i2c 0`), check imu.i2c_bus, and that the "
            f"service user is in the i2c group") from None


def read_block(bus: Any, address: int, register: int, length: int) -> bytes:
    """`length` bytes starting at `register`, in as few transactions as the bus allows."""
    if length <= SMBUS_BLOCK_MAX:
        return bytes(bus.read_i2c_block_data(address, register, length))
    out = bytearray()
    while length > 0:
        n = min(length, BURST_MAX)
        write = i2c_msg.write(address, [register])
        read = i2c_msg.read(address, n)
        bus.i2c_rdwr(write, read)
        out += bytes(read)
        length -= n
    return bytes(out)


def write_byte(bus: Any, address: int, register: int, value: int) -> None:
    bus.write_byte_data(address, register, value & 0xFF)


def read_byte(bus: Any, address: int, register: int) -> int:
    return bus.read_byte_data(address, register) & 0xFF

