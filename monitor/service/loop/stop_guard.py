"""What stops the belt when the daemon itself freezes, in plain words, for each relay drive.

`treadguard run` says it at start, `treadguard check` and `treadguard status` say it
too, and the README's table says the same: one text, so they cannot disagree.
The figure is measured by `python bench/frozen_daemon.py` (the daemon on fake
hardware, stopped with SIGSTOP for 3 s, the relay keeper on its own; the worst
of its runs on a desk) and written here by hand when it changes.
"""

from __future__ import annotations

from typing import Any

# bench/frozen_daemon.py --runs 10, the worst run, on a desk with 2 cores under a load average of 12:
# SIGSTOP -> relay released (median 35 ms).
FROZEN_RELEASE_MS = 48


def protection(config: Any, *, has_keeper: bool | None = None) -> str:
    """What releases the relay if the monitor freezes, with this config; said after "If the monitor freezes: ".

    has_keeper: whether the relay keeper runs (None: as a real run decides, from the drive)."""
    relay = config.relay
    lease_ms = config.loop.deadline_ticks / config.loop.rate_hz * 1000
    if relay.driver != "gpio":
        return "nothing real: the relay is a fake"
    if relay.drive == "charge_pump":
        return ("the charge-pump circuit releases the relay by itself about 50 ms after the last toggle, "
                "even if the whole Pi freezes")
    if has_keeper is None or has_keeper:
        return (f"the relay keeper, a process of its own, releases the relay {lease_ms:g} ms after the loop's "
                f"last heartbeat (measured: at most {FROZEN_RELEASE_MS} ms after a SIGSTOP, bench/frozen_daemon.py). "
                f"If the whole Pi freezes, only the hardware watchdog (up to 5 s) and the safety key stop the "
                f"belt; relay.drive = \"charge_pump\" covers that too")
    return "only systemd's watchdog (2 s) releases the relay: no relay keeper runs here"
