"""Records every replay decision on ../shared/data into tests/data/replay_decisions.json.

    python bench/record_decisions.py

tests/test_replay_decisions.py replays the same traces and compares each trip
time, reason and detail with this file, so a change meant to be only faster or
only tidier (a refactor, a compiled build) is shown to change no decision. Run
this only when detection is meant to change, and say so in the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.schema import Config  # noqa: E402
from monitor.service.sessions.replay_many import replay_many  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "replay_decisions.json"


def decisions(paths: list[str], jobs: int = 2) -> dict[str, list]:
    out = {}
    for path, (result, error) in zip(paths, replay_many(paths, Config(), jobs)):
        name = f"{Path(path).parent.name}/{Path(path).name}"
        out[name] = ["error", error] if result is None else [result.samples, result.trip_t, result.reason,
                                                            result.detail]
    return out


def shared_traces() -> list[str]:
    return sorted(str(p) for p in DATA.glob("*/*.csv*"))


def main() -> int:
    paths = shared_traces()
    if not paths:
        print(f"no traces in {DATA}", file=sys.stderr)
        return 1
    OUT.parent.mkdir(exist_ok=True)
    found = decisions(paths)
    lines = ",\n".join(f"{json.dumps(name)}: {json.dumps(found[name])}" for name in sorted(found))
    OUT.write_text("{\n" + lines + "\n}\n", encoding="utf-8")  # one trace a line: readable diffs
    print(f"wrote {len(paths)} decisions to {OUT.relative_to(OUT.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
