"""Which Host names the dashboard answers to: its defence against DNS rebinding.

A page on evil.example can make its own name resolve to 127.0.0.1 (or to this Pi's
address) and then read the dashboard as if it were its own: to the browser it is
the same origin. The browser still sends `Host: evil.example`, so the dashboard
answers only to the names it is known by: localhost, the bind address, this
machine's host name and <hostname>.local, and the names in [bridge]
dashboard_hosts. When it listens on every address (0.0.0.0 or ::), any IP address
literal is one of its addresses as far as a browser can tell, and a literal cannot
be rebound (the page's origin is then that address), so literals are accepted.
"""

from __future__ import annotations

import ipaddress
import socket

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


def host_of(header: str | None) -> str | None:
    """The name or address in a Host header, lower-case, without port, brackets or the
    root's trailing dot; None when there is none."""
    if not header:
        return None
    host = header.strip().lower()
    port = ""
    if host.startswith("["):  # an IPv6 literal, maybe with a port: [::1]:8957
        end = host.find("]")
        if end < 2 or (host[end + 1:] and not host[end + 1:].startswith(":")):
            return None
        host, port = host[1:end], host[end + 2:]
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    if port and not port.isdigit():  # "localhost:1@evil.example" is no name of ours
        return None
    host = host.rstrip(".")
    return host or None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class HostCheck:
    """allows(Host header) -> bool, for one dashboard's bind address and extra names."""

    def __init__(self, bind: str, extra_names: tuple[str, ...] | list[str] = (),
                 hostname: str | None = None) -> None:
        hostname = (socket.gethostname() if hostname is None else hostname).lower().rstrip(".")
        names = set(LOOPBACK_NAMES)
        if hostname:
            short = hostname.partition(".")[0]
            names |= {hostname, short, f"{short}.local"}
        addresses = [bind, *LOOPBACK_ADDRESSES]
        for name in extra_names:
            name = name.lower().rstrip(".")
            if _address(name) is not None:
                addresses.append(name)
            else:
                names.add(name)
        self.names = frozenset(names)
        self.addresses = frozenset(a for a in map(_address, addresses) if a is not None)
        bind_address = _address(bind)
        self.any_literal = bind_address is not None and bind_address.is_unspecified

    def allows(self, header: str | None) -> bool:
        host = host_of(header)
        if host is None:
            return False
        address = _address(host)
        if address is None:
            return host in self.names
        return self.any_literal or address in self.addresses
