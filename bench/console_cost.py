"""What the status socket's and the console's tick hooks cost the loop, per tick, on this machine.

Runs the daemon loop on fake devices in real time (the side threads get the GIL while
the loop sleeps, as in the service) for 10 s at 100 Hz, armed, with a walker moving
back and forth through the warning zone, three ways: no hooks, the status publisher (a
snapshot every 0.25 s into a StatusServer with one connected client), and the
publisher plus the console (button, RGB light, buzzer on gpiozero's MockFactory,
the light and buzzer changing with the warning). Prints the time spent in the hooks
per tick (mean and worst), the ticks that started late, and the memory still held at
the end (a separate run under tracemalloc, 60 s on a simulated clock). The switch
interval is set to 0.5 ms as `treadguard run` sets it. A Pi Zero 2 W runs Python
about ten times slower than a desktop.

    python bench/console_cost.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from gpiozero.pins.mock import MockFactory  # noqa: E402

from drivers.fake import FakeImu, FakeRangeSensor, FakeRelay  # noqa: E402
from monitor.config.schema import Config  # noqa: E402
from monitor.safety.core import SafetyCore  # noqa: E402
from monitor.service.loop.clock import ScaledClock, SimulatedClock  # noqa: E402
from monitor.service.loop.daemon import Daemon, Devices  # noqa: E402
from monitor.service.outputs.console import open_console  # noqa: E402
from monitor.service.outputs.status_socket import StatusPublisher, StatusServer  # noqa: E402

SECONDS = 10.0
G = 9.80665


def config() -> Config:
    from dataclasses import replace

    base = Config()
    return replace(base, range=replace(base.range, enabled=True, warning_zone_m=0.25),
                   console=replace(base.console, button_enabled=True, light="rgb", buzzer_enabled=True))


def run(mode: str, folder: str, *, trace_memory: bool = False) -> tuple[float, float, float, int, int]:
    cfg = config()
    seconds = 60.0 if trace_memory else SECONDS
    clock = SimulatedClock(0.0) if trace_memory else ScaledClock(0.0, 1.0)
    rng = np.random.default_rng(0)
    n = int(seconds * 200)
    t = np.arange(n) / 200.0
    samples = np.column_stack([t, rng.normal(0, 0.05, (n, 3)) + [0, 0, G], rng.normal(0, 0.01, (n, 3))]).tolist()
    # walks back and forth through the warning zone (0.85 m to 1.1 m from the console), never tripping
    ranges = [(k * 0.05, 0.8 + 0.14 * (1 - np.cos(k * 0.05 * 0.5))) for k in range(int(seconds * 20))]
    devices = Devices(imu=FakeImu(clock, samples), relay=FakeRelay(clock), range_sensor=FakeRangeSensor(clock, ranges))
    core = SafetyCore(cfg, start_s=0.0, imu_mount=[[1, 0, 0], [0, 1, 0], [0, 0, 1]], has_belt=False, has_range=True)
    daemon = Daemon(core, devices, clock)
    server = console = client = None
    hooks = []
    if mode != "none":
        server = StatusServer(os.path.join(folder, f"{mode}.sock"))
        import socket
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(server.path)
        publisher = StatusPublisher(server.offer, interval_s=0.25, rate_hz=cfg.loop.rate_hz, daemon=daemon)
        if mode == "status+console":
            console = open_console(cfg, pin_factory=MockFactory(), clock=clock, core=core, say=lambda line: None)
            publisher.extras.append(console.status)
            hooks.append(console.on_tick)
        hooks.append(publisher.on_tick)

    spent = [0.0, 0.0]  # seconds inside the hooks, and the worst single tick's

    def each(verdict, core):
        t0 = time.perf_counter()
        for hook in hooks:
            hook(verdict, core)
        dt = time.perf_counter() - t0
        spent[0] += dt
        spent[1] = max(spent[1], dt)

    daemon.on_tick = each if hooks else None
    if trace_memory:
        tracemalloc.start()
    stats = daemon.run(until_s=seconds, arm_at_start=True)
    current = 0
    if trace_memory:
        current, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if console is not None:
        console.close()
    if server is not None:
        server.close()
    if client is not None:
        client.close()
    return stats.late_ticks, spent[0] / stats.ticks, spent[1], stats.ticks, current


def main() -> None:
    sys.setswitchinterval(0.0005)
    folder = tempfile.mkdtemp(prefix="tg-bench-")
    print(f"the loop on fake devices, {SECONDS:g} s in real time at 100 Hz, this machine:")
    for mode in ("none", "status", "status+console"):
        late, in_hooks_s, worst_s, ticks, _ = run(mode, folder)
        memory_b = run(mode, folder, trace_memory=True)[4]
        hooks = "" if mode == "none" else (f"; hooks {in_hooks_s * 1e6:.1f} us/tick mean, "
                                           f"{worst_s * 1e6:.0f} us worst")
        print(f"  {mode:15s} {ticks} ticks, {late} skipped{hooks}; {memory_b / 1024:.0f} KiB held at the end")
    os.rmdir(folder)


if __name__ == "__main__":
    main()
