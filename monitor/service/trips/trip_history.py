"""The trips recorded in a folder: found, read tolerantly, newest first.

A trip record is `trip-<stamp>.json` (the explanation) beside `trip-<stamp>.csv.gz`
(the sensor data, a trace). Records from older and newer treadguards differ in
which keys they hold: every key is optional here, an unreadable explanation is
listed as such, and a data file without its explanation is still listed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"^trip-(?P<stamp>\d{8}-\d{6}(?:-\d{3})?)\.(?P<ext>json|csv\.gz|csv)$")


@dataclass(frozen=True)
class TripEntry:
    trip_id: str  # the stamp in the file names, e.g. "20261201-101500-123"
    json_path: str | None
    data_path: str | None
    explanation: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why the explanation could not be read

    @property
    def when(self) -> str:
        """The trip's time as recorded (UTC), else as the file name says."""
        recorded = self.explanation.get("tripped_at_utc")
        if isinstance(recorded, str) and recorded:
            return recorded.replace("T", " ").replace("Z", " UTC")
        s = self.trip_id
        return f"{s[0:4]}-{s[4:6]}-{s[6:8]} {s[9:11]}:{s[11:13]}:{s[13:15]} UTC"

    @property
    def reason(self) -> str:
        return str(self.explanation.get("reason") or "?")

    @property
    def detail(self) -> str:
        if self.problem:
            return self.problem
        return str(self.explanation.get("detail") or "?")

    @property
    def problems(self) -> list[dict[str, Any]]:
        found = self.explanation.get("problems")
        if isinstance(found, list) and found:
            return [p for p in found if isinstance(p, dict)]
        if "detail" in self.explanation:  # a record with only the first problem's summary
            return [{"reason": self.explanation.get("reason"), "detail": self.explanation["detail"],
                     "values": self.explanation.get("values", {})}]
        return []


def list_trips(folder: str) -> list[TripEntry]:
    """Every trip in the folder, newest first. Raises OSError when the folder cannot be read."""
    parts: dict[str, dict[str, str]] = {}
    for name in os.listdir(folder):
        match = _NAME.match(name)
        if match:
            kind = "json" if match["ext"] == "json" else "data"
            parts.setdefault(match["stamp"], {}).setdefault(kind, os.path.join(folder, name))
    return [_read(stamp, files) for stamp, files in sorted(parts.items(), reverse=True)]


def _read(stamp: str, files: dict[str, str]) -> TripEntry:
    json_path, data_path = files.get("json"), files.get("data")
    if json_path is None:
        return TripEntry(stamp, None, data_path, problem="no explanation file (only the data)")
    try:
        with open(json_path, encoding="utf-8") as f:
            explanation = json.load(f)
    except (OSError, ValueError) as err:
        return TripEntry(stamp, json_path, data_path, problem=f"explanation unreadable ({type(err).__name__})")
    if not isinstance(explanation, dict):
        return TripEntry(stamp, json_path, data_path, problem="explanation is not a JSON object")
    named = explanation.get("data")
    if data_path is None and isinstance(named, str):
        candidate = os.path.join(os.path.dirname(json_path), os.path.basename(named))
        data_path = candidate if os.path.exists(candidate) else None
    return TripEntry(stamp, json_path, data_path, explanation)


def find_trip(entries: list[TripEntry], wanted: str) -> TripEntry | list[TripEntry]:
    """The one trip an ID names: its stamp, its file name, a unique start of the stamp,
    or "latest". Otherwise the (possibly empty) list of those it could mean."""
    if wanted == "latest":
        return entries[0] if entries else []
    key = os.path.basename(wanted)
    key = key[len("trip-"):] if key.startswith("trip-") else key
    for suffix in (".json", ".csv.gz", ".csv"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    exact = [e for e in entries if e.trip_id == key]
    if exact:
        return exact[0]
    matches = [e for e in entries if e.trip_id.startswith(key)]
    return matches[0] if len(matches) == 1 else matches
