"""Which dev recordings there are, whose they are and what they show: the one place that knows their names.

The dev data (../shared/data, read-only, never copied into the repository):

    sisfall-dev/          11 young adults (SA01-SA11), overground: falls, stumbles, walking, jogging
    sisfall-elderly-dev/  4 older people (SE01-SE04): walking and jogging only
    mobgap-dev/           2 healthy adults and a person with MS: walking bouts with the standing before them
    movingreality-dev/    4 people after a stroke (pp01-pp04): whole treadmill trials, standing, belt start, walking

Every person is one subject of the subject-wise cross-validation.
"""

from __future__ import annotations

import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FOLDERS = ("sisfall-dev", "sisfall-elderly-dev", "mobgap-dev", "movingreality-dev")
NAME = re.compile(r"sisfall-(?P<activity>[A-Z]\d\d)-(?P<subject>S[AE]\d\d)-R\d\d"
                  r"|mobgap-(?P<person>[A-Z]{2}\d{3})-"
                  r"|movingreality-(?P<patient>pp\d\d)-")
# Normal gait (must never trip): SisFall walking and jogging, the mobgap bouts (MOB), the treadmill trials (TRD).
NORMAL = ("D01", "D02", "D03", "D04", "MOB", "TRD")
FALLS = ("F01", "F02", "F03", "F04", "F05")
STUMBLE = "D18"


def dev_paths(data: Path = DATA) -> list[str]:
    """Every dev trace, sorted, folder by folder."""
    out: list[str] = []
    for folder in FOLDERS:
        out += sorted(str(p) for p in (data / folder).glob("*.csv.gz"))
    return out


def who(path: str) -> tuple[str, str]:
    """(activity, subject) from a dev trace's name (an augmented copy's '#variant' ignored)."""
    m = NAME.search(Path(path.split("#")[0]).name)
    if m is None:
        raise ValueError(f"not a dev trace name: {path}")
    if m["activity"]:
        return m["activity"], m["subject"]
    if m["person"]:
        return "MOB", m["person"]
    return "TRD", m["patient"]
