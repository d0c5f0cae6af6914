"""The progress file: a backward walker's speed ceiling, kept between sessions.

A small JSON object, written whole or not at all (monitor.formats.atomic), so a
power cut mid-write leaves the old file or the new one, never half of one:

    {"format": "treadguard-progress v1", "ceiling_mps": 0.6,
     "updated": "2026-12-07T14:02:11Z", "last_session": "2026-12-07T14:02:11Z",
     "history": [{"at": "...", "event": "rose", "ceiling_mps": 0.6}, ...]}

Reading never fails: a missing file is a new walker; a broken, truncated or
hand-edited file that does not check out gives the starting ceiling and a
message that names the file and what to do. A session after a long break
starts a step lower. Times are UTC wall-clock times, for people to read.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from monitor.formats.atomic import replace_file

FORMAT = "treadguard-progress v1"
HISTORY_KEPT = 50  # the last rises and falls, for `treadguard progress`
MAX_FILE_BYTES = 64 * 1024  # a progress file is a few hundred bytes; a larger one is not ours


@dataclass
class Progress:
    ceiling_mps: float
    updated: str | None = None
    last_session: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        return (json.dumps({"format": FORMAT, "ceiling_mps": round(self.ceiling_mps, 3), "updated": self.updated,
                            "last_session": self.last_session, "history": self.history[-HISTORY_KEPT:]},
                           indent=1) + "\n").encode()


@dataclass(frozen=True)
class Loaded:
    """What reading gave: the progress to start from, and anything a person should hear about it."""

    progress: Progress
    message: str | None  # a problem with the file (the starting ceiling is used), or None
    is_new: bool  # there was no file: a new walker


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _problem(data: Any, min_mps: float, max_mps: float) -> str | None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f'it is not a treadguard progress file (no "format": "{FORMAT}")'
    ceiling = data.get("ceiling_mps")
    if isinstance(ceiling, bool) or not isinstance(ceiling, (int, float)) or not math.isfinite(ceiling):
        return "ceiling_mps is not a number"
    if not min_mps <= ceiling <= max_mps:
        return f"ceiling_mps {ceiling:g} is outside {min_mps:g} to {max_mps:g} m/s (ceiling.min_mps to " \
               f"belt.max_backward_mps)"
    if not isinstance(data.get("history", []), list):
        return "history is not a list"
    return None


def load_progress(path: str, *, start_mps: float, min_mps: float, max_mps: float, step_mps: float,
                  break_days: float, now: datetime | None = None) -> Loaded:
    """The progress at path, checked; never raises."""
    fresh = Progress(start_mps)
    what_to_do = "Run `treadguard progress --reset` to start again, or `--set M/S` to restore your ceiling"
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return Loaded(fresh, None, True)
    except OSError as err:
        return Loaded(fresh, f"{path}: cannot be read ({err.strerror or err}); starting at the new walker's "
                             f"ceiling {start_mps:g} m/s. Check the file's owner and mode", False)
    problem: str | None
    data: Any = None
    if len(raw) > MAX_FILE_BYTES:
        problem = f"it is larger than {MAX_FILE_BYTES // 1024} KiB"
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
            problem = _problem(data, min_mps, max_mps)
        except UnicodeDecodeError:
            problem = "it is not UTF-8 text"
        except json.JSONDecodeError as err:
            problem = f"it is not whole JSON ({err.msg} at line {err.lineno}; cut short or edited by hand?)"
    if problem is not None:
        return Loaded(fresh, f"{path}: {problem}; starting at the new walker's ceiling {start_mps:g} m/s. "
                             f"{what_to_do}", False)
    history = [h for h in data.get("history", []) if isinstance(h, dict)][-HISTORY_KEPT:]
    progress = Progress(float(data["ceiling_mps"]), data.get("updated"), data.get("last_session"), history)
    last = _parse_time(progress.last_session)
    now = now or datetime.now(timezone.utc)
    if last is not None and (now - last).total_seconds() >= break_days * 86400.0:
        lowered = max(min_mps, progress.ceiling_mps - step_mps)
        if lowered < progress.ceiling_mps:
            progress.history.append({"at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "event": "break",
                                     "ceiling_mps": round(lowered, 3)})
            progress.ceiling_mps = lowered
    return Loaded(progress, None, False)


def save_progress(path: str, progress: Progress) -> None:
    """Write the progress whole or not at all; raises OSError (the old file is then unchanged)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(2, "its folder does not exist", folder)
    replace_file(path, progress.to_bytes())
