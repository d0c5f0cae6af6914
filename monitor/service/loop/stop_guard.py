"""What stops the belt when the daemon itself freezes, in plain words, for each relay drive.

`treadguard run` says it at start, `treadguard check` and `treadguard status` say it
too, and the README's table says the same: one text, so they cannot disagree.
The figure is measured by `python bench/frozen_daemon.py` (the daemon on fake
hardware, stopped with SIGSTOP for 3 s, the relay keeper on its own; the worst
of its runs on a desk) and written here by hand when it changes.
"""

from __future__ import annotations

from typing import Any

# bench/frozen_daemon.py, worst of 5 runs on a desk (2 shared, busy cores): SIGSTOP -> relay released.
FROZEN_RELEASE_MS = 38


def protection(config: Any, *, has_keeper: bool | None = None) -> str:
    """One sentence: what releases the relay when the daemon's process freezes, with this config.

    has_keeper: whether the relay keeper runs (None: as a real run would decide, from the drive)."""
    relay = config.relay
    lease_ms = config.loop.deadline_ticks / config.loop.rate_hz * 1000
    if relay.driver != "gpio":
        return "the relay is a fake: nothing real is protected"
    if relay.drive == "charge_pump":
        return ("a frozen daemon or Pi: the charge-pump circuit releases the relay by itself about 50 ms after "
                "the last toggle (no software needed)")
    if has_keeper is None:
        has_keeper = True
    if has_keeper:
        return (f"a frozen daemon: the relay keeper, a process of its own, releases the relay {lease_ms:g} ms "
                f"after the loop's last heartbeat (measured: {FROZEN_RELEASE_MS} ms after SIGSTOP, "
                f"bench/frozen_daemon.py); a frozen Pi: only the hardware watchdog (up to 5 s) and the "
                f"safety key; relay.drive = \"charge_pump\" covers a frozen Pi too")
    return ("a frozen daemon: nothing but systemd's watchdog (2 s) releases the relay, as no relay keeper "
            "runs here")
