"""The loop's real-time care: its tick budget, gc kept out of the loop, scheduling, the I2C bus load."""

from __future__ import annotations

import gc
import os
import resource
import types
from dataclasses import replace

import pytest

from drivers.fake import FakeImu, FakeRelay
from monitor.cli.main import main
from monitor.config import bus_load
from monitor.config.schema import Config
from monitor.safety.core import SafetyCore
from monitor.service.loop.clock import SimulatedClock
from monitor.service.loop.daemon import Daemon, Devices
from monitor.service.loop.loop_timing import standing_samples
from monitor.service.loop.realtime import prepare_process
from monitor.service.loop.tick_budget import GcPolicy, Histogram, TickBudget
from monitor.service.trips.worker_process import ProcessSideline
from tests.fake_i2c import FakeLsm6ds, FakeMpu6050


# -- the histogram and the budget --------------------------------------------------------------
def test_percentiles_come_from_the_tail_and_never_flatter_the_loop():
    h = Histogram()
    for _ in range(998):
        h.add(100e-6)
    h.add(0.5e-3)
    h.add(9e-3)
    assert h.percentile_s(0.5) == pytest.approx(100e-6, rel=0.13)
    assert h.percentile_s(0.5) >= 100e-6
    assert h.percentile_s(0.999) >= 0.5e-3
    assert h.percentile_s(1.0) == h.max_s == 9e-3
    assert h.count == 1000


def test_an_empty_histogram_has_no_percentiles():
    assert Histogram().percentile_s(0.99) is None


def test_the_histogram_keeps_flat_memory_however_many_ticks():
    h = Histogram()
    for i in range(10000):
        h.add(i * 1e-7)
    h.add(1000.0)  # beyond the last bin edge: counted in the last bin
    assert len(h.counts) == 161 and h.max_s == 1000.0


class StepClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_tick_that_starts_past_a_tenth_of_its_period_counts_as_late():
    wall, cpu = StepClock(), StepClock()
    budget = TickBudget(0.01, wall_clock=wall, cpu_clock=cpu)
    budget.tick_started(0.0009)
    wall.t += 0.0002
    cpu.t += 0.0001
    budget.tick_done()
    budget.tick_started(0.0011)
    budget.tick_done()
    budget.skipped(3)
    s = budget.summary()
    assert (s["ticks"], s["late_ticks"], s["skipped_ticks"]) == (2, 1, 3)
    assert s["tick_wall_max_s"] == pytest.approx(0.0002)
    assert s["tick_cpu_max_s"] == pytest.approx(0.0001)
    assert "skipped 3" in budget.describe()


def test_only_full_collections_while_the_loop_runs_count_against_it():
    wall = StepClock()
    budget = TickBudget(0.01, wall_clock=wall)
    budget.on_gc("start", {"generation": 2})
    budget.on_gc("stop", {"generation": 2})  # before the loop: start-up's own collection
    budget.is_in_loop = True
    budget.on_gc("start", {"generation": 0})
    wall.t += 0.00005
    budget.on_gc("stop", {"generation": 0})
    budget.on_gc("start", {"generation": 2})
    budget.on_gc("stop", {"generation": 2})
    s = budget.summary()
    assert s["gc_collections"] == [1, 0, 2] and s["gc_full_in_loop"] == 1
    assert s["gc_pause_max_s"] == pytest.approx(0.00005)


# -- garbage collection ---------------------------------------------------------------------------
class FakeGc:
    def __init__(self, count: int = 0) -> None:
        self.callbacks: list = []
        self.count = count
        self.collected: list[int | None] = []
        self.enabled = True
        self.frozen = False

    def collect(self, generation=None):
        self.collected.append(generation)

    def freeze(self):
        self.frozen = True

    def unfreeze(self):
        self.frozen = False

    def isenabled(self):
        return self.enabled

    def disable(self):
        self.enabled = False

    def enable(self):
        self.enabled = True

    def get_count(self):
        return (self.count, 0, 0)


def test_start_up_is_collected_once_frozen_and_automatic_collection_stops():
    fake = FakeGc()
    policy = GcPolicy(TickBudget(0.01), gc_module=fake)
    policy.start()
    assert fake.collected == [None] and fake.frozen and not fake.enabled and len(fake.callbacks) == 1
    policy.stop()
    assert fake.enabled and not fake.frozen and fake.callbacks == []


@pytest.mark.parametrize("count, slack_s, collects", [
    (699, 0.009, False),   # not enough new objects yet
    (700, 0.009, True),    # enough, and room before the next tick
    (700, 0.0019, False),  # enough, but the next tick is too close
    (700, 0.002, True),
])
def test_a_young_collection_runs_only_when_due_and_there_is_slack(count, slack_s, collects):
    fake = FakeGc(count)
    policy = GcPolicy(gc_module=fake)
    policy.between_ticks(slack_s)
    assert fake.collected == ([0] if collects else [])


def test_every_tenth_young_collection_sweeps_the_middle_generation_and_none_is_full():
    fake = FakeGc(1000)
    policy = GcPolicy(gc_module=fake)
    for _ in range(20):
        policy.between_ticks(0.005)
    assert fake.collected.count(1) == 2 and 2 not in fake.collected and None not in fake.collected


def test_ten_minutes_of_the_loop_run_no_full_collection_and_the_daemon_counts_it():
    """(bench/realtime.py --simulated-hour runs the same for an hour and prints the counts.)"""
    config = Config()
    config = replace(config, imu=replace(config.imu, sample_rate_hz=50.0), belt=replace(config.belt, enabled=False))
    clock = SimulatedClock(0.0)
    hour_s = 600.0
    imu = FakeImu(clock.now, standing_samples(0.0, hour_s + 1, 50.0))
    core = SafetyCore(config, start_s=0.0, has_belt=False, has_range=False)
    budget = TickBudget(0.01)
    daemon = Daemon(core, Devices(imu=imu, relay=FakeRelay(clock.now)), clock, budget=budget,
                    gc_policy=GcPolicy(budget))
    was_enabled = gc.isenabled()
    stats = daemon.run(until_s=hour_s, arm_at_start=True)
    assert stats.first_trip is None and stats.ticks >= 60000
    summary = budget.summary()
    assert summary["gc_full_in_loop"] == 0 and summary["gc_collections"][2] == 1  # the one before the loop
    assert gc.isenabled() == was_enabled  # the daemon gives the collector back as it found it


# -- scheduling and memory ----------------------------------------------------------------------
def fake_os(policy: int = 0, refuse: bool = False):
    calls = []

    def sched_setscheduler(pid, pol, param):
        if refuse:
            raise PermissionError(1, "Operation not permitted")
        calls.append((pol, param.sched_priority))

    return types.SimpleNamespace(SCHED_FIFO=os.SCHED_FIFO, SCHED_RESET_ON_FORK=os.SCHED_RESET_ON_FORK,
                                 sched_param=os.sched_param, sched_getscheduler=lambda pid: policy,
                                 sched_setscheduler=sched_setscheduler), calls


class FakeLibc:
    def __init__(self, result: int = 0) -> None:
        self.result = result
        self.flags: list[int] = []

    def mlockall(self, flags: int) -> int:
        self.flags.append(flags)
        return self.result


def test_run_asks_for_fifo_that_resets_on_fork_and_locks_memory_when_it_may():
    os_module, calls = fake_os()
    libc = FakeLibc()
    report = prepare_process(os_module=os_module, libc=libc, rlimit=(resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert report.is_fifo and report.is_memory_locked
    assert calls == [(os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, 40)]
    assert libc.flags == [3]  # current and future pages
    assert "SCHED_FIFO priority 40" in report.lines[0] and "locked (current and future pages)" in report.lines[1]


def test_without_the_right_it_says_so_and_runs_on_at_normal_priority():
    os_module, _ = fake_os(refuse=True)
    report = prepare_process(os_module=os_module, libc=FakeLibc(), rlimit=(64 * 1024, 64 * 1024))
    assert not report.is_fifo and not report.is_memory_locked
    assert "no right to SCHED_FIFO" in report.lines[0] and "CAP_SYS_NICE" in report.lines[0]
    assert "limit is 64 KiB" in report.lines[1] and "LimitMEMLOCK" in report.lines[1]


def test_fifo_set_by_systemd_is_reported_not_asked_again():
    os_module, calls = fake_os(policy=os.SCHED_FIFO | os.SCHED_RESET_ON_FORK)
    report = prepare_process(os_module=os_module, libc=FakeLibc(-1), rlimit=(32 << 20, 32 << 20))
    assert report.is_fifo and calls == [] and "set by whoever started" in report.lines[0]
    assert not report.is_memory_locked and "not locked" in report.lines[1]


def test_a_modest_lock_limit_locks_only_the_pages_there_are():
    libc = FakeLibc()
    prepare_process(os_module=fake_os()[0], libc=libc, rlimit=(64 << 20, 64 << 20))
    assert libc.flags == [1]


# -- the I2C bus load ----------------------------------------------------------------------------
def logged_bits(bus) -> int:
    return sum(bus_load.read_bits(read) if read else 1 + (1 + wrote) * 9 + 1 for wrote, read in bus.log)


@pytest.mark.parametrize("chip", ["mpu6050", "lsm6ds3", "lsm6dsox"])
@pytest.mark.parametrize("imu_hz, loop_hz", [(200.0, 100.0), (500.0, 200.0), (1000.0, 100.0)])
def test_the_estimate_matches_what_the_real_driver_puts_on_the_bus(chip, imu_hz, loop_hz):
    """The model's per-tick bus time against the fake bus's log of the real driver's transactions
    (steady ticks, no reset checks): the estimate is for the fullest tick, so never below it."""
    from drivers.lsm6ds3 import Lsm6ds3
    from drivers.mpu6050 import Mpu6050

    clock = SimulatedClock()
    args = dict(sample_rate_hz=imu_hz, lowpass_hz=42.0, accel_full_scale_g=16, gyro_full_scale_dps=2000,
                reset_check_s=1e9)
    if chip == "mpu6050":
        bus = FakeMpu6050(clock)
        imu = Mpu6050(bus, clock, **args)
    else:
        bus = FakeLsm6ds(clock, who_am_i=0x69 if chip == "lsm6ds3" else 0x6C)
        imu = Lsm6ds3(bus, clock, address=0x6A, part="auto" if chip == "lsm6ds3" else "lsm6dsox", **args)
    period_s = 1.0 / loop_hz
    for _ in range(20):  # let the FIFO reach its steady rhythm
        clock.advance(period_s)
        imu.read()
    worst = 0
    for _ in range(50):
        bus.log.clear()
        clock.advance(period_s)
        imu.read()
        worst = max(worst, logged_bits(bus))
    estimate = bus_load.estimate(chip, sample_rate_hz=imu_hz, loop_rate_hz=loop_hz, bus_hz=100_000)
    assert estimate.bus_s_per_tick * 100_000 >= worst
    assert estimate.bus_s_per_tick * 100_000 <= worst * 1.25


def test_a_500_hz_mpu_at_200_hz_on_a_100_khz_bus_is_refused_naming_what_to_change():
    load = bus_load.estimate("mpu6050", sample_rate_hz=500.0, loop_rate_hz=200.0, bus_hz=100_000)
    assert load.share > 0.5 and load.is_too_high
    text = load.refusal()
    assert "imu.sample_rate_hz" in text and "loop.rate_hz" in text and "i2c_arm_baudrate" in text


def test_the_same_at_400_khz_fits():
    load = bus_load.estimate("mpu6050", sample_rate_hz=500.0, loop_rate_hz=200.0, bus_hz=400_000)
    assert not load.is_too_high


def test_the_bus_speed_is_read_from_the_pi_or_the_device_tree_or_assumed(tmp_path):
    config = Config()
    assert bus_load.check_config(config, root=tmp_path).bus_hz_source.startswith("(assumed")
    node = tmp_path / "sys/class/i2c-adapter/i2c-1/of_node"
    node.mkdir(parents=True)
    (node / "clock-frequency").write_bytes((400000).to_bytes(4, "big"))
    assert bus_load.check_config(config, root=tmp_path).bus_hz == 400000
    param = tmp_path / "sys/module/i2c_bcm2835/parameters"
    param.mkdir(parents=True)
    (param / "baudrate").write_text("100000\n")
    assert bus_load.check_config(config, root=tmp_path).bus_hz == 100000
    declared = replace(config, imu=replace(config.imu, i2c_bus_hz=1_000_000))
    assert bus_load.check_config(declared, root=tmp_path).bus_hz == 1_000_000


def test_run_refuses_a_config_whose_imu_reads_would_fill_the_tick(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text("[loop]\nrate_hz = 200.0\n[imu]\nsample_rate_hz = 500.0\nlowpass_hz = 42.0\n"
                    "i2c_bus_hz = 100000\n", encoding="utf-8")
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the chip's samples alone need 54% of the bus" in err and "nothing was started" in err


def _one_answer(tmp_path, capsys, text: str) -> tuple[int, str]:
    """`config --check` and `run` on the same file: the same exit status and the same problem."""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    checked = main(["config", "--check", str(path)])
    said = capsys.readouterr()
    ran = main(["run", "--config", str(path)])
    run_said = capsys.readouterr()
    problem = said.err.splitlines()[0] if said.err else ""
    assert checked == ran and (not problem or problem == run_said.err.splitlines()[0])
    return checked, problem


@pytest.mark.parametrize("loop_hz, refused", [(200, False), (250, True), (1000, True)])
def test_config_check_and_run_give_one_answer_on_the_loop_rate(tmp_path, capsys, loop_hz, refused):
    # 200 Hz samples on a 100 kHz bus: reads take 45 % of a 200 Hz tick (fits), 56 % at 250 Hz (not)
    text = f"[loop]\nrate_hz = {loop_hz}\n[imu]\ni2c_bus_hz = 100000\n"
    if not refused:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        assert main(["config", "--check", str(path)]) == 0
        return
    code, problem = _one_answer(tmp_path, capsys, text)
    assert code == 2
    assert f"loop.rate_hz = {loop_hz} on an I2C bus at 100 kHz" in problem
    assert "Set loop.rate_hz = 200 or lower" in problem and "Traceback" not in problem


@pytest.mark.parametrize("imu_hz, refused", [(250, False), (333.3, True), (1000, True)])
def test_an_mpu_sampling_faster_than_a_100khz_bus_carries_is_refused_with_what_to_change(tmp_path, capsys,
                                                                                         imu_hz, refused):
    text = f"[imu]\ndriver = \"mpu6050\"\nsample_rate_hz = {imu_hz}\nlowpass_hz = 42.0\ni2c_bus_hz = 100000\n"
    if not refused:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        assert main(["config", "--check", str(path)]) == 0
        return
    code, problem = _one_answer(tmp_path, capsys, text)
    assert code == 2
    assert f"imu.sample_rate_hz = {imu_hz:g}" in problem and "on an I2C bus at 100 kHz" in problem
    assert "Set imu.sample_rate_hz = 250 or lower" in problem and "i2c_arm_baudrate=400000" in problem
    if imu_hz == 1000:  # more data than the bus carries at all
        assert "the chip's samples alone need 108% of the bus, so its FIFO would overflow" in problem
    else:
        assert "the IMU's reads take 5.49 ms of each 10.0 ms tick (55%, more than 50%)" in problem


# -- side outputs in their own process -----------------------------------------------------------------
def test_a_worker_process_does_the_work_and_the_offer_never_waits(tmp_path):
    done = tmp_path / "done"  # the child names each item it finished here: the test waits on that, not a time
    os.mkfifo(done)
    folder = tmp_path / "out"
    folder.mkdir()
    worker = ProcessSideline("tests.worker_support:file_writer", (str(folder), str(done)), maxsize=4)
    try:
        assert all(worker.offer(f"item{i}") for i in range(3))
        with open(done) as finished:  # however long the child takes to start (a Pi Zero, an emulator)
            assert sorted(finished.readline().strip() for _ in range(3)) == ["item0", "item1", "item2"]
    finally:
        worker.close()
    assert sorted(p.name for p in folder.iterdir()) == ["item0", "item1", "item2"]


def test_a_full_worker_queue_drops_and_counts_instead_of_waiting(tmp_path):
    worker = ProcessSideline("tests.worker_support:file_writer", (str(tmp_path),), maxsize=1)
    try:
        offered = [worker.offer(f"item{i}") for i in range(200)]
    finally:
        worker.close()
    assert worker.dropped == offered.count(False)
