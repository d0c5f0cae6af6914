"""A trip in the plain words `treadguard trips show` uses, and at its wall-clock time.

The status socket's `describe` is the core's own text ("tripped at 12.500 s:
stumble (stumble_detected: jolt=14.2)"), counted in seconds since the daemon
started: nobody at home can read that. The dashboard and the Home Assistant event
say instead what trip_explain says for each problem (each value beside the
threshold it crossed), with the thresholds of the bridge's config (the same file
the daemon reads), overridden by any a trip record keeps.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

from monitor.config.schema import Config
from monitor.service.trips.trip_explain import explain, merged_thresholds, thresholds_from_config


def local_time(wall_time: float | None) -> str:
    """A wall-clock time as people read it, in this machine's time zone."""
    if wall_time is None or not math.isfinite(wall_time):
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_time))


def iso_time(wall_time: float | None) -> str | None:
    """A wall-clock time for machines (Home Assistant): ISO 8601 with the UTC offset."""
    if wall_time is None or not math.isfinite(wall_time):
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall_time))


def _numbers(values: Any) -> dict[str, float | None]:
    if not isinstance(values, Mapping):
        return {}
    return {str(k): v for k, v in values.items()
            if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))}


class TripWords:
    """Sentences for trips, with one config's thresholds."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self._by_walking: dict[str, dict[str, float]] = {}

    def _thresholds(self, walking: str | None) -> dict[str, float]:
        walking = walking if walking in ("forward", "backward") else self.config.session.walking
        if walking not in self._by_walking:
            self._by_walking[walking] = thresholds_from_config(self.config, walking)
        return self._by_walking[walking]

    def sentence(self, detail: str, values: Any, walking: str | None = None) -> str:
        """One problem, as `trips show` says it."""
        return explain(detail or "?", _numbers(values), self._thresholds(walking))

    def of_problems(self, problems: Any, walking: str | None = None) -> list[str]:
        """Every problem of a trip record's or snapshot's list, each in words."""
        if not isinstance(problems, list):
            return []
        base = self._thresholds(walking)
        return [explain(str(p.get("detail") or "?"), _numbers(p.get("values")), merged_thresholds(base, p.get("thresholds")))
                for p in problems if isinstance(p, Mapping)]

    def of_record(self, explanation: Mapping[str, Any]) -> list[str]:
        walking = explanation.get("walking")
        said = self.of_problems(explanation.get("problems"), walking if isinstance(walking, str) else None)
        return said or [self.sentence(str(explanation.get("detail") or "?"), {}, None)]
