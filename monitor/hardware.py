"""Opening the real devices a config names, and failing loudly when one is missing.

Each driver name maps to a module in `drivers/`. A real run never falls back to
a fake or to another backend: a driver that is not there, or a device that does
not answer, is an error that says which one and what to check.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from monitor.config import Config
from monitor.daemon import Devices

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


def open_devices(config: Config, clock: Callable[[], float]) -> Devices:
    """Open every configured device; on any failure close what was opened (relay
    released) and raise HardwareError."""
    opened: list[Any] = []
    try:
        relay = _driver_class("relay", config.relay.driver).from_config(config.relay, clock)
        opened.append(relay)
        imu = _driver_class("imu", config.imu.driver).from_config(config.imu, clock)
        opened.append(imu)
        belt = None
        if config.belt.enabled:
            belt = _driver_class("belt", config.belt.driver).from_config(config.belt, clock)
            opened.append(belt)
        range_sensor = None
        if config.range.enabled:
            range_sensor = _driver_class("range", config.range.driver).from_config(config.range, clock)
            opened.append(range_sensor)
    except Exception as err:
        for device in opened:
            try:
                device.close()
            except Exception:
                pass
        if isinstance(err, HardwareError):
            raise
        raise HardwareError(f"a device could not be opened: {type(err).__name__}: {err}") from None
    return Devices(imu=imu, relay=relay, belt=belt, range_sensor=range_sensor)
