"""A backward walker's progression over simulated sessions: the ceiling carried from one to the next.

Each session is a bench scenario run closed loop on the real daemon loop: the
walker walks backwards just under their ceiling for long enough to earn a rise
(or stumbles, in the session given), and the ceiling the core ends with starts
the next session, as the progress file carries it on the real treadmill.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.schema import Config
from monitor.sim.run import bench_config, build, run_treadguard
from monitor.sim.scenarios import NORMAL, Scenario

BELOW_CEILING_MPS = 0.04  # the walker keeps the belt this much under their ceiling: near it, not over it


@dataclass(frozen=True)
class SessionResult:
    number: int
    start_mps: float
    end_mps: float
    events: tuple[str, ...]  # the ceiling's events in the session: rose, lowered, warned, tripped
    tripped: bool
    reason: str | None


def progression(sessions: int, *, start_mps: float, stumble_in: int | None = None, seed: int = 0,
                config: Config | None = None) -> list[SessionResult]:
    """Run `sessions` backward-walking sessions; in session number `stumble_in` (1-based) the walker stumbles."""
    config = config or bench_config("backward", range_sensor=False)
    minutes_s = config.ceiling.rise_after_s + 60.0  # long enough for one rise, with the first minute settling
    ceiling = start_mps
    out = []
    for k in range(1, sessions + 1):
        speed_kmh = (ceiling - BELOW_CEILING_MPS) * 3.6
        is_stumble = k == stumble_in
        scenario = Scenario(f"progression-{k}", "a backward session just under the ceiling",
                            "stumble" if is_stumble else NORMAL, walking="backward", speed_kmh=speed_kmh,
                            onset_s=60.0, duration_s=90.0 if is_stumble else minutes_s, seed=seed * 1000 + k,
                            range_sensor=False, ceiling_mps=ceiling)
        kept: dict = {}
        outcome = run_treadguard(build(scenario), config=config, on_tick=lambda v, core: kept.setdefault("core", core))
        core = kept["core"]
        events = tuple(e.kind.value for e in core.ceiling_log)
        end = core.ceiling.ceiling_mps
        out.append(SessionResult(k, ceiling, end, events, outcome.tripped, outcome.reason))
        ceiling = end
    return out

