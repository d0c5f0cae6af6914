"""The bridge's room holds: it imports nothing that touches hardware or the daemon's loop,
and its code has no way to talk back: no send on a socket, no MQTT subscription."""

from __future__ import annotations

import ast

from tests.test_architecture import MODULES, _imports

BRIDGE = {name: path for name, path in MODULES.items() if name.startswith("monitor.bridge")}
ALLOWED_PROJECT = ("monitor.bridge", "monitor.config", "monitor.safety.verdict", "monitor.safety.latch",
                   "monitor.safety.settings", "monitor.safety.motion", "monitor.service.outputs.notify",
                   "monitor.service.trips.trip_plot", "monitor.service.trips.trip_explain", "monitor.formats")


def test_the_bridge_imports_no_driver_and_nothing_of_the_daemons_loop():
    assert BRIDGE, "the bridge's modules were not found"
    for name, path in BRIDGE.items():
        for imported, _ in _imports(path):
            if imported.split(".")[0] in ("monitor", "drivers", "bench"):
                assert imported.startswith(ALLOWED_PROJECT), f"{name} imports {imported}"


def test_the_bridge_never_sends_on_a_socket_and_never_subscribes():
    talking_back = {"send", "sendall", "sendto", "sendmsg", "subscribe", "message_callback_add"}
    for name, path in BRIDGE.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in talking_back, f"{name}:{node.lineno} calls .{node.func.attr}()"
            if isinstance(node, ast.Attribute) and node.attr in ("on_message", "on_subscribe"):
                raise AssertionError(f"{name}:{node.lineno} listens for MQTT messages ({node.attr})")
