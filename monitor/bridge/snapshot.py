"""One line of the daemon's status socket, read leniently into typed fields.

The protocol (v 1) is newline-delimited JSON; consumers ignore unknown keys. A
field that is missing or of the wrong type reads as "not known" (None), never as
a made-up value, and a line that is not a JSON object at all is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

STATES = ("unarmed", "armed", "tripped")


@dataclass(frozen=True)
class TripInfo:
    wall_time: float | None
    t_s: float | None
    reason: str
    detail: str
    describe: str
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """A re-arm refused while tripped: when, and the first check that still failed."""
    wall_time: float | None
    detail: str
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    wall_time: float
    t_s: float | None
    state: str  # "unarmed", "armed", "tripped"; "unknown" for anything else
    relay_energized: bool
    walking: str
    belt_mps: float | None
    rear_margin_m: float | None
    imu_age_s: float | None
    trip: TripInfo | None
    trips: int
    problems: tuple[str, ...]
    loop: dict[str, Any]
    rearm_refused: Refusal | None = None  # not a trip: the latched trip is still `trip`
    ceiling_mps: float | None = None  # the backward walker's speed ceiling (None: off or no belt sensor)
    ceiling_over: bool = False  # the belt is above it: the console warns
    step_cv: float | None = None  # steadiness: the variability of the last step times (SD / mean)
    sway_radps: float | None = None  # and the trunk's sway

    @property
    def is_armed(self) -> bool:
        return self.state == "armed"

    @property
    def is_tripped(self) -> bool:
        return self.state == "tripped"


class SnapshotError(ValueError):
    """A status line that is not a v 1 snapshot."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _trip(value: Any) -> TripInfo | None:
    if not isinstance(value, dict):
        return None
    values = value.get("values")
    numbers = {str(k): v for k, v in values.items() if _number(v) is not None} if isinstance(values, dict) else {}
    return TripInfo(wall_time=_number(value.get("wall_time")), t_s=_number(value.get("t_s")),
                    reason=_text(value.get("reason"), "unknown"), detail=_text(value.get("detail")),
                    describe=_text(value.get("describe")), values=numbers)


def _refusal(value: Any) -> Refusal | None:
    if not isinstance(value, dict):
        return None
    why = value.get("why")
    first = why[0] if isinstance(why, list) and why and isinstance(why[0], dict) else {}
    values = first.get("values")
    numbers = {str(k): v for k, v in values.items() if _number(v) is not None} if isinstance(values, dict) else {}
    return Refusal(wall_time=_number(value.get("wall_time")), detail=_text(first.get("detail"), "a check failed"),
                   values=numbers)


def parse_snapshot(line: bytes | str, received_wall_s: float) -> Snapshot:
    """A Snapshot from one line; SnapshotError when it is not a v 1 JSON object.
    `received_wall_s` stands in for a missing wall_time."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError) as err:
        raise SnapshotError(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise SnapshotError("not a JSON object")
    if data.get("v") != 1:
        raise SnapshotError(f"protocol version {data.get('v')!r}, this bridge reads version 1")
    state = _text(data.get("state"))
    problems = data.get("problems")
    loop = data.get("loop")
    walking = _text(data.get("walking"), "forward")
    return Snapshot(
        wall_time=_number(data.get("wall_time")) or received_wall_s,
        t_s=_number(data.get("t_s")),
        state=state if state in STATES else "unknown",
        relay_energized=data.get("relay_energized") is True,
        walking=walking if walking in ("forward", "backward", "unknown") else "forward",
        belt_mps=_number(data.get("belt_mps")),
        rear_margin_m=_number(data.get("rear_margin_m")),
        imu_age_s=_number(data.get("imu_age_s")),
        trip=_trip(data.get("trip")),
        trips=int(_number(data.get("trips")) or 0),
        problems=tuple(str(p) for p in problems) if isinstance(problems, list) else (),
        loop=loop if isinstance(loop, dict) else {},
        rearm_refused=_refusal(data.get("rearm_refused")),
        **_backward(data),
    )


def _backward(data: dict) -> dict[str, Any]:
    """The backward ceiling and steadiness, when the daemon sends them."""
    ceiling = data.get("ceiling") if isinstance(data.get("ceiling"), dict) else {}
    steadiness = data.get("steadiness") if isinstance(data.get("steadiness"), dict) else {}
    return {"ceiling_mps": _number(ceiling.get("ceiling_mps")), "ceiling_over": ceiling.get("is_over") is True,
            "step_cv": _number(steadiness.get("step_cv")), "sway_radps": _number(steadiness.get("sway_radps"))}
