"""The replay contract (TRACE_FORMAT.md) on traces the monitor has never seen."""

import gzip
import json

import numpy as np
import pytest

from monitor.cli.main import main
from monitor.config.schema import Config
from monitor.formats.trace_format import Trace
from monitor.formats.trace_reader import read_trace
from monitor.formats.trace_writer import write_trace
from monitor.service.sessions.replay import replay
from tests.support import sisfall, standing_trace

CONTRACT_KEYS = ["trace", "samples", "duration_s", "tripped", "trip_t", "reason"]

# Rates across the format's range, with and without jitter, mount known or not.
VARIANTS = [
    pytest.param(dict(rate_hz=50.0, seed=1), id="50Hz"),
    pytest.param(dict(rate_hz=200.0, seed=2, jitter=0.3), id="200Hz-jitter"),
    pytest.param(dict(rate_hz=200.0, seed=3, mount_known=False), id="200Hz-unknown-mount"),
    pytest.param(dict(rate_hz=833.0, seed=4, jitter=0.5, t0_s=1234.5), id="833Hz-jitter-late-start"),
    pytest.param(dict(rate_hz=2000.0, seed=5, duration_s=6.0, mount_known=False), id="2000Hz-unknown-mount"),
]


def _damaged(trace: Trace, keep: np.ndarray | None = None, fail: np.ndarray | None = None,
             freeze_from: int | None = None) -> Trace:
    t, accel, gyro, ok = trace.t_s.copy(), trace.accel_mps2.copy(), trace.gyro_radps.copy(), trace.imu_ok.copy()
    if fail is not None:
        accel[fail] = np.nan
        gyro[fail] = np.nan
        ok[fail] = False
    if freeze_from is not None:
        accel[freeze_from:] = accel[freeze_from]
        gyro[freeze_from:] = gyro[freeze_from]
    if keep is None:
        keep = np.ones(len(t), bool)
    return Trace(trace.path, trace.meta, t[keep], accel[keep], gyro[keep], ok[keep])


@pytest.mark.parametrize("variant", VARIANTS)
def test_quiet_standing_does_not_trip(tmp_path, variant):
    result = replay(standing_trace(tmp_path / "s.csv", **variant), Config())
    assert not result.tripped, result


def test_standing_with_belt_and_range_columns_does_not_trip(tmp_path):
    trace = standing_trace(tmp_path / "s.csv", with_belt=True, with_range=True)
    assert not replay(trace, Config()).tripped


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_half_second_hole_trips_within_a_tenth_of_a_second(tmp_path, variant):
    trace = standing_trace(tmp_path / "s.csv", **variant)
    hole_start = trace.t_s[0] + 3.0
    keep = ~((trace.t_s > hole_start) & (trace.t_s <= hole_start + 0.5))
    last_before = trace.t_s[keep & (trace.t_s <= hole_start)][-1]
    result = replay(_damaged(trace, keep=keep), Config())
    assert result.reason == "sensor_fault" and result.detail == "imu_stale"
    assert 0 < result.trip_t - last_before <= 0.1


@pytest.mark.parametrize("variant", VARIANTS)
def test_failed_reads_trip_within_a_tenth_of_a_second(tmp_path, variant):
    trace = standing_trace(tmp_path / "s.csv", **variant)
    start = trace.t_s[0] + 3.0
    fail = (trace.t_s >= start) & (trace.t_s < start + 0.3)
    result = replay(_damaged(trace, fail=fail), Config())
    assert result.reason == "sensor_fault"
    assert 0 <= result.trip_t - trace.t_s[fail][0] <= 0.1


def test_a_single_failed_read_does_not_trip(tmp_path):
    trace = standing_trace(tmp_path / "s.csv")
    fail = np.zeros(trace.samples, bool)
    fail[[300, 900, 901, 1500]] = True
    assert not replay(_damaged(trace, fail=fail), Config()).tripped


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_frozen_imu_trips_within_a_second(tmp_path, variant):
    trace = standing_trace(tmp_path / "s.csv", **variant)
    start = int(np.searchsorted(trace.t_s, trace.t_s[0] + 3.0))
    result = replay(_damaged(trace, freeze_from=start), Config())
    assert result.reason == "sensor_fault" and result.detail == "imu_frozen"
    assert 0 < result.trip_t - trace.t_s[start] <= 1.0


def test_the_trace_stopping_early_is_not_a_trip(tmp_path):
    """Replay ends at the last sample: the end of a recording is not a stale sensor."""
    assert not replay(standing_trace(tmp_path / "s.csv", duration_s=2.0), Config()).tripped


def test_a_header_without_rows_is_an_error_not_a_replay_without_a_trip(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("# treadmill-trace v1\nt,ax,ay,az,gx,gy,gz\n")
    assert main(["replay", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"treadguard: {path}:2: ") and "no samples" in err


def test_a_one_row_trace_is_refused_as_unreadable_and_the_others_still_run(tmp_path, capsys):
    one = tmp_path / "one.csv"
    one.write_text("# treadmill-trace v1\nt,ax,ay,az,gx,gy,gz\n0.0,0,0,9.81,0,0,0\n")
    two = tmp_path / "two.csv"
    write_trace(two, standing_trace(two, duration_s=2.0))
    assert main(["replay", str(one), str(two), "--json"]) == 1
    out, err = capsys.readouterr()
    assert err.startswith(f"treadguard: {one}:3: only 1 sample; replay needs at least 2")
    assert "Traceback" not in err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["trace"] for r in results] == [str(two)] and results[0]["tripped"] is False


def test_a_fall_in_a_real_recording_trips_before_the_impact():
    trace = read_trace(sisfall("F01-SA01-R01"))
    result = replay(trace, Config())
    # the trip of a fall is often its first stumble (here the learned stumble score): both stop the belt
    assert result.reason in ("fall", "stumble") and result.trip_t < trace.meta["label"]["impact_s"]


# -- the command line -------------------------------------------------------------------------------

def _write_broken(tmp_path):
    bad_header = tmp_path / "bad-header.csv"
    bad_header.write_text("# treadmill-trace v2\nt,ax,ay,az,gx,gy,gz\n0,0,0,9.8,0,0,0\n")
    bad_row = tmp_path / "bad-row.csv"
    bad_row.write_text("# treadmill-trace v1\nt,ax,ay,az,gx,gy,gz\n0,0,0,9.8,0,0,0\n0.01,0,0,9.8,0\n")
    far = tmp_path / "far.csv"  # its tick time would stop advancing: refused, not a hang
    far.write_text("# treadmill-trace v1\nt,ax,ay,az,gx,gy,gz\n1e298,0,0,9.8,0,0,0\n1.0000001e298,0,0,9.8,0,0,0\n")
    long_line = tmp_path / "long.csv.gz"
    long_line.write_bytes(gzip.compress(b"# treadmill-trace v1\nt,ax,ay,az,gx,gy,gz\n" + b"0" * (8 << 20)))
    truncated = tmp_path / "truncated.csv.gz"
    good = tmp_path / "good.csv.gz"
    write_trace(good, standing_trace(good, duration_s=3.0))
    truncated.write_bytes(good.read_bytes()[:200])
    return good, [bad_header, bad_row, truncated, tmp_path / "missing.csv", far, long_line]


def test_replay_json_keeps_the_contract_and_the_order(tmp_path, capsys):
    good, _ = _write_broken(tmp_path)
    fall = sisfall("F01-SA01-R01")
    assert main(["replay", str(good), str(fall), str(good), "--json", "--jobs", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["trace"] for line in lines] == [str(good), str(fall), str(good)]
    for line in lines:
        assert list(line)[:6] == CONTRACT_KEYS
    assert lines[0]["tripped"] is False and lines[0]["trip_t"] is None and lines[0]["reason"] is None
    assert lines[1]["tripped"] is True and lines[1]["reason"] in ("fall", "stumble")  # a fall's first stumble
    assert lines[0]["samples"] == 600 and lines[0]["duration_s"] == pytest.approx(2.995)


def test_broken_files_get_one_clear_line_and_the_others_still_run(tmp_path, capsys):
    good, broken = _write_broken(tmp_path)
    paths = [str(broken[0]), str(good), str(broken[1]), str(broken[2]), str(broken[3]), str(good),
             str(broken[4]), str(broken[5])]
    assert main(["replay", *paths, "--json"]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    errors = err.splitlines()
    assert len(errors) == 6 and "Traceback" not in err
    assert errors[0].startswith(f"treadguard: {broken[0]}:1: ")
    assert errors[1].startswith(f"treadguard: {broken[1]}:4: ")
    assert str(broken[2]) in errors[2] and str(broken[3]) in errors[3]
    assert errors[4].startswith(f"treadguard: {broken[4]}:3: ") and "too far from 0" in errors[4]
    assert errors[5].startswith(f"treadguard: {broken[5]}:3: ") and "longer than 4096 bytes" in errors[5]


def test_replay_without_json_explains_each_trace(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    good, _ = _write_broken(tmp_path)
    assert main(["replay", str(good), str(sisfall("D18-SA01-R01"))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "no trip" in out[0] and "TRIP at" in out[1] and out[1].endswith("(stumble_detected)")
    # why, in the words of `treadguard trips show`, indented under its trace and within 80 columns
    why = []
    for line in out[2:]:
        if not line.startswith("    "):
            break
        why.append(line[4:])
    assert why and all(len(line) <= 80 for line in out[2:2 + len(why)])
    assert " ".join(why).startswith("the learned ") or "a stumble needs more than" in " ".join(why)
    assert out[2 + len(why)].startswith("2 trace(s): 1 tripped (stumble 1), 1 did not")


def test_replay_with_a_broken_config_says_so(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[imu]\ntimeout_s = -1\n")
    assert main(["replay", "x.csv", "--config", str(config)]) == 2
    assert "imu.timeout_s is -1.0" in capsys.readouterr().err


@pytest.mark.parametrize("variant", [
    pytest.param(dict(rate_hz=200.0, seed=2, jitter=0.3, with_belt=True, with_range=True), id="belt-range"),
    pytest.param(dict(rate_hz=2000.0, seed=5, duration_s=6.0), id="2000Hz"),
])
def test_a_file_replayed_as_a_stream_gives_what_the_whole_trace_gives(tmp_path, monkeypatch, variant):
    from monitor.formats import trace_reader
    from monitor.service.sessions.replay import replay_file
    trace = standing_trace(tmp_path / "s.csv.gz", **variant)
    trace.accel_mps2[len(trace.t_s) // 2:] *= 3.0  # something to trip on, halfway
    write_trace(tmp_path / "s.csv.gz", trace)
    whole = replay(read_trace(tmp_path / "s.csv.gz"), Config())
    monkeypatch.setattr(trace_reader, "BLOCK_BYTES", 4096)  # many chunks, dropped as they are played
    assert replay_file(tmp_path / "s.csv.gz", Config()) == whole


def test_a_real_recording_replays_the_same_streamed_or_whole():
    from monitor.service.sessions.replay import replay_file
    path = sisfall("D18-SA01-R01")
    assert replay_file(path, Config()) == replay(read_trace(path), Config())
