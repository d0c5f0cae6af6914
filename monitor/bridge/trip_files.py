"""The daemon's trip records (record.trip_dir), as far as the bridge's user may read them.

Each trip is trip-<stamp>.json (the explanation) beside trip-<stamp>.csv.gz (the
sensor data around it). The bridge only reads them, and copes when it may not:
the folder is the daemon's, shared with its group (the bridge's user is a member:
folder 2750 or 0750, records 0640); where it is not, the page says so.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

STAMP = re.compile(r"^trip-(\d{8}-\d{6}-\d{3})\.json$")
MAX_RECORDS = 200
MAX_RECORD_BYTES = 1_000_000


@dataclass(frozen=True)
class TripFile:
    stamp: str
    explanation: dict
    data_path: Path | None  # the .csv.gz beside it, when it is there and readable

    @property
    def wall_time(self) -> float | None:
        import calendar
        import time
        try:
            seconds = calendar.timegm(time.strptime(self.stamp[:15], "%Y%m%d-%H%M%S"))
        except ValueError:
            return None
        return seconds + int(self.stamp[16:19]) / 1000


@dataclass(frozen=True)
class TripFolder:
    records: list[TripFile]
    problem: str  # "" when the folder could be read


def read_trip_folder(folder: str) -> TripFolder:
    """The newest records first (at most MAX_RECORDS), or why none could be read."""
    try:
        names = sorted((n for n in os.listdir(folder) if STAMP.match(n)), reverse=True)[:MAX_RECORDS]
    except FileNotFoundError:
        return TripFolder([], f"no trip records yet ({folder} does not exist)")
    except PermissionError:
        return TripFolder([], f"the trip records in {folder} are not readable by the bridge's user; "
                              f"the trips below come from the status socket")
    except OSError as err:
        return TripFolder([], f"the trip records in {folder} cannot be listed ({err.strerror or err})")
    records = []
    unreadable = 0
    for name in names:
        stamp = STAMP.match(name).group(1)
        path = Path(folder) / name
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                continue
            explanation = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            unreadable += 1
            continue
        if not isinstance(explanation, dict):
            continue
        data = path.with_name(f"trip-{stamp}.csv.gz")
        records.append(TripFile(stamp, explanation, data if os.access(data, os.R_OK) else None))
    problem = (f"{unreadable} trip record(s) in {folder} could not be read by the bridge's user"
               if unreadable else "")
    return TripFolder(records, problem)


def find_record(folder: TripFolder, wall_time: float, within_s: float = 2.0) -> TripFile | None:
    """The record of the trip the socket reported at wall_time (the record is named by the same clock)."""
    best = None
    for record in folder.records:
        t = record.wall_time
        if t is not None and abs(t - wall_time) <= within_s and (
                best is None or abs(t - wall_time) < abs(best.wall_time - wall_time)):
            best = record
    return best
