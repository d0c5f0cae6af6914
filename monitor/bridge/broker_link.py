"""The link to the MQTT broker as a person hears of it: one line when it changes, never a flood.

paho retries with back-off for ever; without this, a broker that is down said
nothing at all and a wrong password said two lines at every retry. The link is an
Enum and `step` its one transition function: a line is said only when the link
enters a new state (unreachable, refused, lost, connected), so a broker that stays
away costs one line, and its return one more.
"""

from __future__ import annotations

import enum


class Link(enum.Enum):
    STARTING = "starting"
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"  # no TCP connection (nothing listens, no route, name unknown)
    REFUSED = "refused"  # the broker answered and refused us (user name, password, client id)
    LOST = "lost"  # was connected, went away


class Event(enum.Enum):
    CONNECTED = "connected"
    CONNECT_FAILED = "connect failed"
    REFUSED = "refused"
    DISCONNECTED = "disconnected"


def step(link: Link, event: Event) -> tuple[Link, bool]:
    """The next state of the link, and whether that change is worth a line."""
    if event is Event.CONNECTED:
        return Link.CONNECTED, True
    if event is Event.REFUSED:
        return Link.REFUSED, link is not Link.REFUSED
    if event is Event.CONNECT_FAILED:
        if link in (Link.UNREACHABLE, Link.LOST):  # already said (a lost broker that stays away is no news)
            return link, False
        return Link.UNREACHABLE, True  # also after a refusal: the broker is now gone altogether
    # DISCONNECTED: news only when we were connected; after a refusal the broker hangs up, as expected
    if link is Link.CONNECTED:
        return Link.LOST, True
    return link, False


def line(link: Link, where: str, reason: str = "") -> str:
    """What the bridge says on entering `link`."""
    if link is Link.CONNECTED:
        return f"treadguard bridge: connected to the MQTT broker {where}"
    if link is Link.UNREACHABLE:
        return (f"treadguard bridge: cannot reach the MQTT broker {where} (nothing answers there); Home "
                f"Assistant gets nothing until it does; retrying quietly, check [bridge] mqtt_host and mqtt_port")
    if link is Link.REFUSED:
        hint = ("check [bridge] mqtt_username and the password file"
                if "author" in reason.lower() or "password" in reason.lower()
                else "check the broker's log")
        return (f"treadguard bridge: the MQTT broker {where} refused the connection ({reason}); {hint}; "
                f"retrying quietly")
    if link is Link.LOST:
        return f"treadguard bridge: the MQTT broker {where} went away ({reason}); reconnecting quietly"
    return f"treadguard bridge: connecting to the MQTT broker {where}"
