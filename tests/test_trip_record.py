"""Every trip is explained on disk: the reason, the values and limits, and the sensor data
around it; the part from before the trip is written at once, the rest appended; a link
planted at a record's name, or a folder that is not treadguard's own, is refused."""

import json
import os

import pytest

from drivers.interfaces import READ_FAILED, HealthEvent
from monitor.config.schema import Config
from monitor.formats.trace_reader import read_trace
from monitor.safety.core import SafetyCore
from monitor.service.outputs.journal import TripJournal, trip_line
from monitor.service.sessions.replay import replay
from monitor.service.trips.trip_record import (
    RecordFolder,
    RecordRefused,
    TripAfter,
    TripRecorder,
    TripStart,
    open_folder,
    trip_record_writer,
)
from tests.support import IDENTITY_MOUNT, standing, with_settings

RATE = 256.0
WALL_S = 1_800_000_000.25
NAME = "trip-20270115-080000-250"


def run_to_a_trip(config=Config(), stop_at_s=4.0, *, belt=False, ranges=False):
    """Standing still, armed at 0 s, then three failed reads in a row at 2 s."""
    core = SafetyCore(with_settings(config, imu={"mount": IDENTITY_MOUNT}), start_s=0.0,
                      has_belt=belt, has_range=ranges)
    offered = []
    recorder = TripRecorder(core, lambda r: offered.append(r) or True, wall_clock=lambda: WALL_S)
    samples = standing(0.0, 5.0, RATE)
    core.request_reset()
    for k in range(int(stop_at_s * 64) + 1):
        now = k / 64
        core.ingest_imu([s for s in samples if now - 1 / 64 < s[0] <= now])
        if belt and k % 6 == 0:
            core.ingest_belt(now, 1.25)
        if ranges and k % 3 == 0:
            core.ingest_range(now, 0.75)
        if k == 128:
            core.ingest_imu([], [HealthEvent(2.0, READ_FAILED)] * 3)
        recorder.on_tick(core.tick(now), core)
    return core, recorder, offered


def test_the_start_is_offered_in_the_tick_of_the_trip_and_the_rest_after_s_later():
    config = with_settings(record={"before_s": 3.0, "after_s": 1.0})
    _, _, offered = run_to_a_trip(config)
    start, after = offered
    assert isinstance(start, TripStart) and isinstance(after, TripAfter)
    assert start.trip.detail == "imu_read_failed" and start.trip.t_s == 2.0
    times = [s[0] for s in start.samples + after.samples]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] == pytest.approx(0.0, abs=1 / RATE)  # only 2 s before exist
    assert start.samples[-1][0] <= 2.0 < after.samples[0][0]
    assert times[-1] == pytest.approx(3.0, abs=1 / 64)  # 1 s after
    assert start.imu_mount == IDENTITY_MOUNT and start.walking == "forward"
    assert after.wall_time_s == start.wall_time_s


def test_the_rest_of_a_record_is_handed_on_when_the_daemon_stops():
    core, recorder, offered = run_to_a_trip(stop_at_s=2.5)
    assert len(offered) == 1 and isinstance(offered[0], TripStart)
    recorder.finish(core)
    assert len(offered) == 2 and offered[1].samples[-1][0] == pytest.approx(2.5, abs=1 / 64)


def test_a_record_on_disk_explains_the_trip_with_values_and_limits_and_replays(tmp_path):
    _, _, (start, after) = run_to_a_trip()
    folder = RecordFolder(str(tmp_path / "trips"))
    explanation, data = folder.begin(start)
    folder.append(after)
    text = json.loads(open(explanation).read())
    assert text["reason"] == "sensor_fault" and text["detail"] == "imu_read_failed"
    assert text["problems"][0]["values"] == {"failed_reads_in_a_row": 3.0}
    assert text["problems"][0]["limits"] == {"failed_reads_max": 2.0}
    assert text["tripped_at_utc"] == "2027-01-15T08:00:00Z" and text["data"] == NAME + ".csv.gz"
    trace = read_trace(data)
    assert trace.imu_mount.tolist() == IDENTITY_MOUNT
    assert trace.samples == len(start.samples) + len(after.samples)
    assert not replay(trace, Config()).tripped  # the failed reads are not in the IMU data itself
    with open(data, "rb") as f:
        assert f.read().count(b"\x1f\x8b\x08") >= 2  # two gzip members: the start, then the rest


def test_a_record_cut_off_after_its_start_is_still_a_readable_trace(tmp_path):
    _, _, (start, _) = run_to_a_trip()
    _, data = RecordFolder(str(tmp_path / "trips")).begin(start)  # killed before the after part
    trace = read_trace(data)
    assert trace.samples == len(start.samples) and trace.t_s[-1] <= 2.0


def test_the_record_has_the_belt_and_range_columns_when_the_core_has_those_sensors(tmp_path):
    _, _, (start, after) = run_to_a_trip(belt=True, ranges=True)
    folder = RecordFolder(str(tmp_path / "trips"))
    _, data = folder.begin(start)
    folder.append(after)
    trace = read_trace(data)
    belt = trace.belt_mps[~(trace.belt_mps != trace.belt_mps)]
    assert len(belt) > 20 and set(belt.tolist()) == {1.25}
    ranges = trace.range_m[trace.range_m == trace.range_m]
    assert len(ranges) > 40 and set(ranges.tolist()) == {0.75} and trace.rear_edge_m == 1.6


def test_a_symlink_planted_at_the_records_name_is_refused_not_followed(tmp_path):
    _, _, (start, _) = run_to_a_trip()
    trips = tmp_path / "trips"
    trips.mkdir(mode=0o750)
    target = tmp_path / "precious"
    target.write_text("keep me")
    os.symlink(target, trips / (NAME + ".csv.gz"))
    with pytest.raises(RecordRefused, match="already exists as a symbolic link"):
        RecordFolder(str(trips)).begin(start)
    assert target.read_text() == "keep me"


def test_a_symlinked_folder_is_refused(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o750)
    os.symlink(real, tmp_path / "trips")
    with pytest.raises(RecordRefused, match="is a symbolic link"):
        open_folder(str(tmp_path / "trips"))


def test_a_folder_others_can_write_or_that_is_not_ours_is_refused(tmp_path, monkeypatch):
    trips = tmp_path / "trips"
    trips.mkdir()
    os.chmod(trips, 0o777)
    with pytest.raises(RecordRefused, match="writable by others .*chmod 2750"):
        open_folder(str(trips))
    os.chmod(trips, 0o750)
    os.close(open_folder(str(trips)))
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(trips).st_uid + 1)
    with pytest.raises(RecordRefused, match="belongs to uid"):
        open_folder(str(trips))


def test_a_missing_folder_is_made_private(tmp_path):
    os.close(open_folder(str(tmp_path / "trips")))
    assert not os.stat(tmp_path / "trips").st_mode & 0o027  # at most 0750 (the umask may narrow it)


def test_a_folder_that_cannot_be_written_costs_the_record_not_the_trip(tmp_path):
    _, _, (start, after) = run_to_a_trip()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    said = []
    write = trip_record_writer(str(blocker / "trips"), said.append)
    write(start)
    write(after)  # nothing to append to: not said again
    assert len(said) == 1 and "could not write the record of the trip at 2.000 s" in said[0]
    assert "writable" in said[0] and "journal" in said[0]
    ok = []
    trip_record_writer(str(tmp_path / "trips"), ok.append)(start)
    assert ok[0].startswith("treadguard: trip recorded: ")


def test_the_journal_hears_of_a_trip_before_any_file_is_written(tmp_path):
    _, _, (start, after) = run_to_a_trip()
    events = []
    folder = tmp_path / "trips"

    def forward(item):
        events.append(("record", type(item).__name__, folder.exists() and sorted(os.listdir(folder))))
        trip_record_writer(str(folder), lambda line: None)(item)
        return True

    journal = TripJournal(forward, write=lambda data: events.append(("journal", data.decode(), None)),
                          threaded=False)
    journal.offer(start)
    journal.offer(after)
    journal.drain()
    assert [e[:2] for e in events] == [("journal", trip_line(start.trip) + "\n"), ("record", "TripStart"),
                                       ("record", "TripAfter")]
    assert events[1][2] in (False, [])  # no file existed when the line was already out
    line = events[0][1]
    assert line.count("\n") == 1 and line.startswith("treadguard: TRIPPED sensor_fault (imu_read_failed: ")
    assert "failed_reads_in_a_row=3; limit failed_reads_max=2" in line


def test_a_full_journal_queue_drops_and_counts_never_waits():
    journal = TripJournal(None, write=lambda data: None, maxsize=1, threaded=False)
    _, _, (start, _) = run_to_a_trip()
    assert journal.offer(start) and not journal.offer(start)
    assert journal.dropped == 1


def test_under_the_services_umask_the_records_are_group_readable_and_the_folder_is_shared(tmp_path):
    import stat

    _, _, (start, after) = run_to_a_trip()
    previous = os.umask(0o077)  # the service's UMask=0077
    try:
        folder = RecordFolder(str(tmp_path / "trips"))
        explanation, data = folder.begin(start)
        folder.append(after)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "trips").st_mode) == 0o2750
    assert stat.S_IMODE(os.stat(explanation).st_mode) == 0o640 and stat.S_IMODE(os.stat(data).st_mode) == 0o640


def test_where_the_setgid_bit_is_refused_the_folder_is_still_group_readable(tmp_path, monkeypatch):
    """systemd's RestrictSUIDSGID=yes refuses the setgid bit (emulated here: EPERM for a mode with it)."""
    import errno
    import stat

    real_fchmod = os.fchmod

    def restricted(fd, mode):
        if mode & (stat.S_ISUID | stat.S_ISGID):
            raise PermissionError(errno.EPERM, "Operation not permitted")
        real_fchmod(fd, mode)
    monkeypatch.setattr(os, "fchmod", restricted)
    (tmp_path / "trips").mkdir(mode=0o700)  # as an older treadguard left it under UMask=0077
    os.close(open_folder(str(tmp_path / "trips")))
    assert stat.S_IMODE(os.stat(tmp_path / "trips").st_mode) == 0o750


def test_the_journal_says_a_refused_re_arm_as_such_once_and_no_new_trip():
    """The IMU keeps failing after the trip; a person sends USR1 at 3.5 s: refused, said once."""
    from monitor.service.trips.trip_record import TripRecorder
    from tests.test_status_socket import make_daemon

    daemon, devices, clock = make_daemon(with_settings(loop={"rate_hz": 100.0}))
    devices.imu.fail_reads(3.0)
    lines: list[str] = []
    journal = TripJournal(None, write=lambda data: lines.append(data.decode()), threaded=False)
    recorder = TripRecorder(daemon.core, journal.offer)

    def hook(verdict, core):
        if abs(verdict.t_s - 3.5) < 0.005:
            core.request_reset()
        recorder.on_tick(verdict, core)
        journal.on_tick(verdict, core)

    daemon.on_tick = hook
    daemon.run(until_s=4.0, arm_at_start=True)
    journal.drain()
    assert [line.split(" ")[1] for line in lines] == ["TRIPPED", "re-arm"]
    assert lines[1].startswith("treadguard: re-arm refused at t = 3.5") and "the trip holds" in lines[1]
