"""Every replay decision on the shared recordings is exactly what was recorded (bench/record_decisions.py).

A speed-up or a tidy-up must change no trip time, reason or detail on any of
them; a change to detection re-records the file on purpose.
"""

from __future__ import annotations

import json

import pytest

from bench.record_decisions import OUT, decisions, shared_traces

PATHS = shared_traces()


@pytest.mark.skipif(not PATHS, reason="../shared/data not beside the repository")
def test_every_trip_time_reason_and_detail_on_the_shared_recordings_is_unchanged():
    expected = json.loads(OUT.read_text(encoding="utf-8"))
    got = decisions(PATHS)
    changed = {name: (expected.get(name), now) for name, now in got.items() if expected.get(name) != now}
    missing = sorted(set(expected) - set(got))
    assert not changed and not missing, (
        f"{len(changed)} decisions changed (first: {dict(list(changed.items())[:3])}), {len(missing)} traces "
        "missing; if detection was meant to change, run `python bench/record_decisions.py` and say so")
