"""The relay keeper's decision: the relay may be energized only while the loop's heartbeats keep coming.

The relay keeper (monitor.service.loop.relay_keeper) is a small process of its
own that owns the relay line. It knows nothing of the safety checks; it only
follows the daemon's messages, and this is the whole of what it decides:

* at start the relay is released, until the first heartbeat (the loop energized
  the relay on a tick that may run);
* each heartbeat renews the lease; a lease that runs out (no heartbeat for
  `lease_s`: the daemon froze, stopped, or lost the interpreter) releases the
  relay, and heartbeats are then refused until a re-arm (a person armed the
  daemon's latch again);
* a release from the daemon releases at once;
* the end of the daemon's messages (its end of the socket closed: it exited or
  died) releases for good.

Pure: the time is passed in, so it is tested without sleeping.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class KeeperState(enum.Enum):
    RELEASED = "released"  # at start, and after the daemon released the relay
    ENERGIZED = "energized"  # heartbeats are coming within the lease
    EXPIRED = "expired"  # the heartbeats stopped: released until a re-arm
    ENDED = "ended"  # the daemon is gone: released for good


class KeeperEvent(enum.Enum):
    HEARTBEAT = "heartbeat"  # the loop energized the relay on a healthy tick
    RELEASE = "release"  # the loop released the relay
    REARM = "rearm"  # a person armed the daemon's latch again
    LEASE_RAN_OUT = "lease_ran_out"  # no heartbeat for the lease
    DAEMON_GONE = "daemon_gone"  # end of file on the daemon's socket


def next_state(state: KeeperState, event: KeeperEvent) -> KeeperState:
    """The one transition function of the keeper."""
    if state is KeeperState.ENDED or event is KeeperEvent.DAEMON_GONE:
        return KeeperState.ENDED
    if state is KeeperState.EXPIRED:
        return KeeperState.RELEASED if event is KeeperEvent.REARM else KeeperState.EXPIRED
    if event is KeeperEvent.HEARTBEAT:
        return KeeperState.ENERGIZED
    if event is KeeperEvent.RELEASE:
        return KeeperState.RELEASED
    if event is KeeperEvent.LEASE_RAN_OUT and state is KeeperState.ENERGIZED:
        return KeeperState.EXPIRED
    return state


class LeaseExpiry(NamedTuple):
    """The keeper released the relay because the heartbeats stopped."""

    heartbeat_s: float  # the last heartbeat, on the keeper's clock
    released_s: float  # when the keeper released the relay


class KeeperLease:
    """The keeper's state and its lease, judged on the clock the caller passes in."""

    def __init__(self, lease_s: float) -> None:
        if not lease_s > 0:
            raise ValueError(f"lease_s must be positive, not {lease_s!r}")
        self.lease_s = lease_s
        self.state = KeeperState.RELEASED
        self.last_heartbeat_s: float | None = None

    @property
    def is_energized(self) -> bool:
        return self.state is KeeperState.ENERGIZED

    def on(self, event: KeeperEvent, now_s: float) -> KeeperState:
        """A message from the daemon (or its end), read at now_s."""
        self.state = next_state(self.state, event)
        if event is KeeperEvent.HEARTBEAT and self.state is KeeperState.ENERGIZED:
            self.last_heartbeat_s = now_s
        return self.state

    def judge(self, now_s: float) -> LeaseExpiry | None:
        """After the waiting messages were read: release if the lease ran out. The expiry, once."""
        if self.state is not KeeperState.ENERGIZED or self.last_heartbeat_s is None:
            return None
        if now_s - self.last_heartbeat_s <= self.lease_s:
            return None
        self.state = next_state(self.state, KeeperEvent.LEASE_RAN_OUT)
        return LeaseExpiry(self.last_heartbeat_s, now_s)

    def wait_s(self, now_s: float, idle_s: float) -> float:
        """How long the keeper may wait for the next message: until the lease runs out while
        energized (never negative), else idle_s."""
        if self.state is KeeperState.ENERGIZED and self.last_heartbeat_s is not None:
            return max(0.0, self.last_heartbeat_s + self.lease_s - now_s)
        return idle_s
