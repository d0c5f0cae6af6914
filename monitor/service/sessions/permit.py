"""The config's devices opened with the relay behind its run permit, for every session that may energize it.

Both `treadguard run` and `treadguard record` energize the relay, so both open it the
same way: with relay.drive = "level" a relay keeper process owns the line and
releases it when the loop's heartbeats stop (a frozen process), and in every case
the loop's own lease (DeadlineRelay) releases it when the loop stops renewing it.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from drivers.interfaces import Relay
from monitor.config.schema import Config
from monitor.service.loop.daemon import LoopClock
from monitor.service.loop.deadline import DeadlineRelay, lease_for
from monitor.service.loop.relay_keeper import GPIO_RELAY, KeeperError, KeeperRelay


class PermittedDevices(NamedTuple):
    devices: Any  # monitor.service.sessions.hardware.Devices, its relay a DeadlineRelay
    has_keeper: bool  # a relay keeper process owns the relay line


def open_permitted(config: Config, clock: LoopClock, *, i2c_bus: Any = None, pin_factory: Any = None,
                   make_permit: Callable[[Relay, float], DeadlineRelay] | None = None,
                   relay_keeper: tuple[str, dict] | None = None) -> PermittedDevices:
    """Open the devices; the relay energizes only while the loop renews its lease.

    Raises HardwareError naming the device that failed; the relay is then released.
    Tests pass a fake bus, a pin factory, a permit stepped on their own clock and,
    for a keeper, the relay factory it runs ("module:function", its JSON argument).
    """
    from monitor.service.sessions.hardware import HardwareError, open_devices

    lease_s = lease_for(config.loop.rate_hz, config.loop.deadline_ticks)
    keeper_relay = None
    relay_keeper = relay_keeper if relay_keeper is not None else default_relay_keeper(config, pin_factory)
    if relay_keeper is not None:
        try:
            keeper_relay = KeeperRelay.start(lease_s, *relay_keeper)
        except KeeperError as err:
            raise HardwareError(f"[relay] {err}") from None
    try:
        devices = open_devices(config, clock, i2c_bus=i2c_bus, pin_factory=pin_factory, relay=keeper_relay)
    except HardwareError:
        if keeper_relay is not None:
            keeper_relay.close()
        raise
    devices.relay = (make_permit or DeadlineRelay)(devices.relay, lease_s)
    return PermittedDevices(devices, keeper_relay is not None)


def default_relay_keeper(config: Config, pin_factory: Any) -> tuple[str, dict] | None:
    """The relay keeper a real run needs: the level drive on the Pi's own GPIO. The charge pump's
    circuit needs none, and tests that pass a pin factory of their own pass their keeper too."""
    if pin_factory is not None or config.relay.driver != "gpio" or config.relay.drive != "level":
        return None
    relay = config.relay
    return GPIO_RELAY, {"pin": relay.pin, "active_high": relay.active_high, "feedback_pin": relay.feedback_pin,
                        "feedback_closed_when_energized": relay.feedback_closed_when_energized,
                        "feedback_settle_s": relay.feedback_settle_s, "drive": relay.drive}
