"""Opening the real devices a config names, and failing loudly when one is missing.

Each driver name maps to a module in `drivers/`. A real run never falls back to
a fake or to another backend: a driver that is not there, or a device that does
not answer, is an error that says which one and what to check.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from monitor.config.schema import Config
from monitor.service.loop.daemon import Devices

# (config section, driver name) -> "module:Class"; each class has from_config(section, clock).
DRIVERS = {
    ("imu", "mpu6050"): "drivers.mpu6050:Mpu6050",
    ("imu", "lsm6ds3"): "drivers.lsm6ds3:Lsm6ds3",
    ("belt", "pulse"): "drivers.pulse_belt:PulseBeltSensor",
    ("range", "hcsr04"): "drivers.hcsr04:HcSr04",
    ("relay", "gpio"): "drivers.gpio_relay:GpioRelay",
}


class HardwareError(Exception):
    """A device could not be opened; the message says which and what to check."""


def _driver_class(section: str, name: str) -> Any:
    if name == "fake":
        raise HardwareError(
            f"{section}.driver is \"fake\": fake devices only play recorded traces; "
            f"use `treadguard run --bench TRACE`, or name the real part in the config")
    target = DRIVERS.get((section, name))
    if target is None:
        raise HardwareError(f"{section}.driver \"{name}\" is not a known driver")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise HardwareError(
            f"the {name} driver for [{section}] is not available ({err.name} is missing): "
            f"this installation of treadguard cannot run that part yet; "
            f"check `pip show treadguard` and the parts list in wiring/") from None
    return getattr(module, class_name)


def open_devices(config: Config, clock: Callable[[], float], *, i2c_bus: Any = None,
                 pin_factory: Any = None, relay: Any = None) -> Devices:
    """Open every configured device; on any failure close what was opened (relay
    released) and raise HardwareError.

    i2c_bus: an SMBus-compatible object used instead of /dev/i2c-N (the bench and the
    tests pass a register-level fake). pin_factory: a gpiozero pin factory used instead
    of the real one (tests pass MockFactory). relay: a relay already opened elsewhere (the
    relay keeper's), used instead of opening [relay]; it is closed with the rest on a failure.
    Without them a real run opens the real
    bus and the lgpio factory on the Pi's GPIO chip, and gpiozero falling back to
    another pin factory by itself is an error.
    """
    opened: list[Any] = [] if relay is None else [relay]
    section = "relay"
    try:
        # Every driver is found before any device is touched: a config naming a fake or an
        # unknown part fails before the GPIO chip is opened.
        relay_class = _driver_class("relay", config.relay.driver)
        imu_class = _driver_class("imu", config.imu.driver)
        belt_class = _driver_class("belt", config.belt.driver) if config.belt.enabled else None
        range_class = _driver_class("range", config.range.driver) if config.range.enabled else None
        if pin_factory is None:
            from drivers.gpio_backend import forbid_fallback, real_pin_factory
            forbid_fallback()
            pin_factory = real_pin_factory()  # one factory for every GPIO device
        gpio = {"pin_factory": pin_factory}
        if relay is None:
            relay = relay_class.from_config(config.relay, clock, **gpio)
            opened.append(relay)
        section = "imu"
        imu_args = {} if i2c_bus is None else {"bus": i2c_bus}
        imu = imu_class.from_config(config.imu, clock, **imu_args)
        opened.append(imu)
        belt = None
        if belt_class is not None:
            section = "belt"
            belt = belt_class.from_config(config.belt, clock, **gpio)
            opened.append(belt)
        range_sensor = None
        if range_class is not None:
            section = "range"
            range_sensor = range_class.from_config(config.range, clock, **gpio)
            opened.append(range_sensor)
    except Exception as err:
        for device in opened:
            try:
                device.close()
            except Exception:
                pass
        if isinstance(err, HardwareError):
            raise
        if isinstance(err, OSError):  # the drivers' errors say what to check
            raise HardwareError(f"[{section}] {err}") from None
        raise HardwareError(f"[{section}] a device could not be opened: {type(err).__name__}: {err}") from None
    devices = Devices(imu=imu, relay=relay, belt=belt, range_sensor=range_sensor)
    devices.pin_factory = pin_factory  # the console's devices (monitor.service.outputs.console) join the same one
    return devices
