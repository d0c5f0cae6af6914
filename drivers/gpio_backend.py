"""Choosing the gpiozero pin factory for a real run: lgpio on the Pi's own GPIO chip, or a loud error.

gpiozero, left alone, tries lgpio, then RPi.GPIO, pigpio and finally a native
fallback, with only a warning each time (PinFactoryFallback), and honours the
GPIOZERO_PIN_FACTORY variable, which can name the mock factory. A safety relay
driven through the wrong backend, or through none, must not start quietly. So a
real run builds the lgpio factory itself, on the GPIO chip found by its kernel
label (the Pi 5's RP1 is "pinctrl-rp1", and its /dev/gpiochipN number changed
between kernel releases; earlier Pis are "pinctrl-bcm2711" / "pinctrl-bcm2835"),
and turns gpiozero's fallback warnings into errors for anything else.
Tests pass their own factory (gpiozero's MockFactory) and never come here.

gpiozero 2.0's lgpio pin sets an output's initial level in two steps: it claims
the line as an output (lgpio.gpio_claim_output at its default level, low) and
then writes the level. For an active-low relay, low is "energized": the relay
pulls in for that moment at every start. The factory built here claims an
output line at its initial level in the one call lgpio offers for it (the
kernel line request carries the level), so the pin never shows the other level.
"""

from __future__ import annotations

import fcntl
import glob
import platform
import struct
import sys
import warnings
from typing import Any, Callable, Iterable

PI_GPIO_LABELS = ("pinctrl-rp1", "pinctrl-bcm2712", "pinctrl-bcm2711", "pinctrl-bcm2835")
# GPIO_GET_CHIPINFO_IOCTL = _IOR(0xB4, 0x01, struct gpiochip_info { char name[32]; char label[32]; u32 lines; })
_CHIPINFO_FORMAT = "32s32sI"
_GPIO_GET_CHIPINFO_IOCTL = (2 << 30) | (struct.calcsize(_CHIPINFO_FORMAT) << 16) | (0xB4 << 8) | 0x01


class GpioBackendError(OSError):
    """No GPIO backend a real run may use; the message says what is missing."""


def chip_label(path: str) -> str:
    """The kernel's label of the GPIO chip at path (/dev/gpiochipN)."""
    with open(path, "rb", buffering=0) as chip:
        info = bytearray(struct.calcsize(_CHIPINFO_FORMAT))
        fcntl.ioctl(chip, _GPIO_GET_CHIPINFO_IOCTL, info)
    _name, label, _lines = struct.unpack(_CHIPINFO_FORMAT, bytes(info))
    return label.split(b"\0", 1)[0].decode("ascii", "replace")


def _chip_number(path: str) -> int:
    return int(path.rsplit("gpiochip", 1)[1])


def find_pi_gpio_chip(paths: Iterable[str] | None = None,
                      label_of: Callable[[str], str] = chip_label) -> int:
    """The number N of /dev/gpiochipN that carries the Pi's header pins, found by its label."""
    paths = sorted(glob.glob("/dev/gpiochip[0-9]*") if paths is None else paths, key=_chip_number)
    seen = []
    for path in paths:
        try:
            label = label_of(path)
        except OSError as err:
            seen.append(f"{path}: unreadable ({err.strerror or err})")
            continue
        if label in PI_GPIO_LABELS:
            return _chip_number(path)
        seen.append(f"{path}: {label!r}")
    found = "; ".join(seen) if seen else "no /dev/gpiochip* at all"
    raise GpioBackendError(
        f"no Raspberry Pi GPIO chip found (looked for a chip labelled {', '.join(PI_GPIO_LABELS)}; "
        f"found {found}): run on a Raspberry Pi, and check that the service user may open "
        f"/dev/gpiochip* (the gpio group)")


def no_lgpio_message(why: str) -> str:
    """What to do without lgpio; systemd/install.py says the same when it cannot install it."""
    python = ".".join(str(part) for part in sys.version_info[:2])
    return (f"the lgpio GPIO backend is not usable ({why}). On Raspberry Pi OS: `sudo apt install "
            f"python3-lgpio` (systemd/install.py does this; its venv sees the system's packages). "
            f"Elsewhere: `pip install lgpio` in treadguard's environment works only where PyPI has an "
            f"lgpio wheel for this Python and machine (Python {python} on {platform.machine()}; 3.11 on "
            f"aarch64 or x86_64 has one, 3.13 only an empty placeholder); or build lgpio from its source "
            f"(the lg C library, swig and a compiler). treadguard does not fall back to another backend")


def real_pin_factory(chip: int | None = None) -> Any:
    """The lgpio pin factory on the Pi's GPIO chip; GpioBackendError says what is missing."""
    try:
        import lgpio  # gpiozero imports it lazily; fail here with a clear message
    except ImportError as err:
        raise GpioBackendError(no_lgpio_message(f"it is missing: {err}")) from None
    if not hasattr(lgpio, "gpiochip_open"):  # gpiozero's import of it would fail with an AttributeError
        raise GpioBackendError(no_lgpio_message(
            f"the lgpio found ({getattr(lgpio, '__file__', '?')}) is PyPI's empty placeholder, lgpio 0.0.0.2, "
            f"which pip picks where PyPI has no real lgpio wheel"))
    from gpiozero.pins.lgpio import LGPIOFactory
    if chip is None:
        chip = find_pi_gpio_chip()
    try:
        with warnings.catch_warnings():
            from gpiozero.exc import NativePinFactoryFallback, PinFactoryFallback
            warnings.simplefilter("error", PinFactoryFallback)
            warnings.simplefilter("error", NativePinFactoryFallback)
            return _claim_at_level_factory(LGPIOFactory, chip)
    except Exception as err:
        raise GpioBackendError(
            f"cannot open /dev/gpiochip{chip} with lgpio ({type(err).__name__}: {err}): check that the "
            f"service user is in the gpio group and that no other program holds the pins") from None


def _claim_at_level_factory(factory_class: Any, chip: int) -> Any:
    """An LGPIOFactory whose pins claim an output at its initial level in one step."""
    import lgpio
    from gpiozero.pins.lgpio import LGPIOPin

    class ClaimAtLevelPin(LGPIOPin):
        def output_with_state(self, state: Any) -> None:
            if self._callback is not None:  # as LGPIOPin._set_function does before claiming
                self._callback.cancel()
                self._callback = None
            lgpio.gpio_claim_output(self.factory._handle, self._number, int(bool(state)))

    factory = factory_class(chip=chip)
    factory.pin_class = ClaimAtLevelPin
    return factory


def forbid_fallback() -> None:
    """From now on, gpiozero choosing a fallback pin factory by itself is an error, not a warning."""
    from gpiozero.exc import NativePinFactoryFallback, PinFactoryFallback
    warnings.simplefilter("error", PinFactoryFallback)
    warnings.simplefilter("error", NativePinFactoryFallback)
