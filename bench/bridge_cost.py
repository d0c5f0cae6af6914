"""What the home bridge costs per status snapshot: parse, session tracking, the live view
and the MQTT state message (no broker: publishing is the worker's, not this thread's).

    python bench/bridge_cost.py [N]

Prints microseconds per snapshot and the memory growth over N snapshots (flat: the chart
keeps a fixed number of points, and the log writes only on events). At the default 4
snapshots a second, multiply by 4 for the CPU share; a Pi Zero 2 W is about 10x slower.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.bridge.service import Bridge  # noqa: E402
from monitor.bridge.sessions import SessionRules  # noqa: E402
from monitor.bridge.snapshot import parse_snapshot  # noqa: E402


class CountingPublisher:
    """Stands in for MqttPublisher's offers (which only fill a bounded outbox)."""

    def __init__(self) -> None:
        self.offers = 0

    def offer_state(self, state) -> None:
        json.dumps(state, separators=(",", ":"))  # what the real offer does in this thread
        self.offers += 1

    def offer_trip(self, event) -> None:
        self.offers += 1

    def set_daemon_live(self, is_live) -> None:
        pass


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with tempfile.TemporaryDirectory() as folder:
        publisher = CountingPublisher()
        bridge = Bridge(socket_path=f"{folder}/none.sock", session_db=f"{folder}/s.sqlite",
                        rules=SessionRules(idle_s=120.0), silence_s=2.0, state_interval_s=2.0,
                        publisher=publisher, say=lambda line: None)
        lines = []
        for k in range(n):
            t = 1.7e9 + k * 0.25
            lines.append(json.dumps({"v": 1, "wall_time": t, "t_s": k * 0.25, "state": "armed",
                                     "relay_energized": True, "walking": "forward",
                                     "belt_mps": 1.2 + 0.1 * (k % 7), "rear_margin_m": 0.8, "imu_age_s": 0.004,
                                     "trip": None, "trips": 0, "problems": [],
                                     "loop": {"rate_hz": 100.0, "ticks": k * 25, "late_ticks": 0}}).encode())
        half = n // 2
        start = time.perf_counter()
        for line in lines[:half]:
            bridge.on_snapshot(parse_snapshot(line, 0.0))
        elapsed = time.perf_counter() - start
        checkpoints = bridge.log.db.execute("SELECT count(*) FROM sessions").fetchone()[0]
        tracemalloc.start()  # the second half, for memory only (tracing slows it down)
        before = tracemalloc.get_traced_memory()[0]
        for line in lines[half:]:
            bridge.on_snapshot(parse_snapshot(line, 0.0))
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        bridge.log.close()
        print(f"{half} snapshots ({half * 0.25 / 60:.0f} min of walking at 4 a second, {half * 0.25 / 10:.0f} "
              f"checkpoints of the session log, {checkpoints} session): {elapsed / half * 1e6:.0f} us each "
              f"on this machine, fsync included")
        print(f"memory over the next {n - half} snapshots: {(after - before) / 1024:+.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
