"""Every trip is explained on disk: the reason, the values, and the IMU data around it."""

import json

import pytest

from drivers.interfaces import READ_FAILED, HealthEvent
from monitor.config.schema import Config
from monitor.formats.trace_reader import read_trace
from monitor.safety.core import SafetyCore
from monitor.service.replay import replay
from monitor.service.trip_record import TripRecorder, trip_record_writer, write_trip_record
from tests.support import IDENTITY_MOUNT, standing, with_settings

RATE = 256.0


def run_to_a_trip(config=Config(), stop_at_s=4.0):
    """Standing still, armed at 0 s, then three failed reads in a row at 2 s."""
    core = SafetyCore(with_settings(config, imu={"mount": IDENTITY_MOUNT}), start_s=0.0,
                      has_belt=False, has_range=False)
    offered = []
    recorder = TripRecorder(core, lambda r: offered.append(r) or True, wall_clock=lambda: 1_800_000_000.25)
    samples = standing(0.0, 5.0, RATE)
    core.request_reset()
    for k in range(int(stop_at_s * 64) + 1):
        now = k / 64
        core.ingest_imu([s for s in samples if now - 1 / 64 < s[0] <= now])
        if k == 128:
            core.ingest_imu([], [HealthEvent(2.0, READ_FAILED)] * 3)
        recorder.on_tick(core.tick(now), core)
    return core, recorder, offered


def test_a_trip_is_recorded_with_the_seconds_before_and_after():
    config = with_settings(record={"before_s": 3.0, "after_s": 1.0})
    _, _, offered = run_to_a_trip(config)
    assert len(offered) == 1
    record = offered[0]
    assert record.trip.detail == "imu_read_failed" and record.trip.t_s == 2.0
    times = [s[0] for s in record.samples]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] == pytest.approx(0.0, abs=1 / RATE)  # only 2 s before exist
    assert times[-1] == pytest.approx(3.0, abs=1 / 64)  # 1 s after
    assert record.imu_mount == IDENTITY_MOUNT and record.walking == "forward"


def test_a_record_still_waiting_is_handed_on_when_the_daemon_stops():
    core, recorder, offered = run_to_a_trip(stop_at_s=2.5)
    assert offered == []
    recorder.finish(core)
    assert len(offered) == 1 and offered[0].samples[-1][0] == pytest.approx(2.5, abs=1 / 64)


def test_a_record_on_disk_explains_the_trip_and_replays(tmp_path):
    _, _, offered = run_to_a_trip()
    explanation, data = write_trip_record(offered[0], str(tmp_path / "trips"))
    text = json.loads(open(explanation).read())
    assert text["reason"] == "sensor_fault" and text["detail"] == "imu_read_failed"
    assert text["problems"][0]["values"] == {"failed_reads_in_a_row": 3.0}
    assert text["tripped_at_utc"] == "2027-01-15T08:00:00Z" and text["data"].endswith(".csv.gz")
    trace = read_trace(data)
    assert trace.imu_mount.tolist() == IDENTITY_MOUNT and trace.samples == len(offered[0].samples)
    assert not replay(trace, Config()).tripped  # the failed reads are not in the IMU data itself


def test_a_folder_that_cannot_be_written_costs_the_record_not_the_trip(tmp_path):
    _, _, offered = run_to_a_trip()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    said = []
    trip_record_writer(str(blocker / "trips"), said.append)(offered[0])
    assert len(said) == 1 and "could not write the record of the trip at 2.000 s" in said[0]
    assert "writable" in said[0]
    ok = []
    trip_record_writer(str(tmp_path / "trips"), ok.append)(offered[0])
    assert ok[0].startswith("treadguard: trip recorded: ")
