"""The fault matrix: every fault the running daemon is tested against, and docs/reliability.md.

    python bench/fault_matrix.py            print the page
    python bench/fault_matrix.py --write    write docs/reliability.md

FAULTS is the case table of tests/test_fault_matrix.py, which injects each fault
into the real daemon (`run_hardware` on a register-level fake I2C bus and
gpiozero's MockFactory, on a simulated clock; a few data faults through the
replay daemon, the same loop on fake drivers) and asserts, for each, the relay
released within its bound, the reason and detail, and what was written. The page
is rendered from this table, and a test checks the committed page is current.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
TICK = "tick"
DEADLINE = "deadline"
AT_ONCE = "at_once"


@dataclass(frozen=True)
class Fault:
    key: str
    group: str
    fault: str  # what goes wrong, as a person would say it
    injected: str  # how the test makes it happen
    reason: str | None  # the trip's reason word; None: no trip, the daemon stops
    detail: str | None
    detectable_after_s: float  # the check's own threshold: from the fault to when it can be known
    bound: str  # TICK: released within 2 ticks of detectable; DEADLINE: within the lease; AT_ONCE: in the signal
    writes: str  # what reaches the journal and the trip folder


JOURNAL_AND_RECORD = "journal line; record (json + csv.gz)"

FAULTS: tuple[Fault, ...] = (
    # -- the IMU on its bus
    Fault("imu_unplugged", "IMU bus", "the IMU's cable is pulled out", "every bus transaction NACKs from 102 s",
          "sensor_fault", "imu_read_failed", 0.03, TICK, JOURNAL_AND_RECORD),
    Fault("i2c_error_burst", "IMU bus", "a burst of I2C errors (10 transactions)", "the next 10 transactions NACK",
          "sensor_fault", "imu_read_failed", 0.03, TICK, JOURNAL_AND_RECORD),
    Fault("i2c_every_other_read", "IMU bus", "I2C errors on every other read (never 3 in a row)",
          "one NACK every second tick", "sensor_fault", "imu_reads_failing", 0.21, TICK, JOURNAL_AND_RECORD),
    Fault("chip_reset", "IMU bus", "the IMU resets itself (a brown-out)",
          "every register back to its reset value", "sensor_fault", "imu_stale", 0.06, TICK, JOURNAL_AND_RECORD),
    Fault("fifo_overflow", "IMU bus", "the IMU's FIFO overflows", "the chip raises FIFO_OFLOW_INT",
          "sensor_fault", "imu_overflow", 0.01, TICK, JOURNAL_AND_RECORD),
    Fault("imu_frozen", "IMU bus", "the IMU repeats one sample (a frozen sensor)",
          "the chip's samples stop changing", "sensor_fault", "imu_frozen", 0.5, TICK, JOURNAL_AND_RECORD),
    Fault("imu_silent", "IMU bus", "the IMU stops sampling (its clock stops)",
          "the chip is put to sleep", "sensor_fault", "imu_stale", 0.06, TICK, JOURNAL_AND_RECORD),
    # -- data no IMU on a person gives
    Fault("accel_zero", "IMU data", "the accelerometer reads 0,0,0", "the chip's accelerometer reads 0",
          "sensor_fault", "imu_gravity_implausible", 2.0, TICK, JOURNAL_AND_RECORD),
    Fault("accel_in_g", "IMU data", "the accelerometer reads in g instead of m/s²",
          "the chip's acceleration divided by 9.81", "sensor_fault", "imu_gravity_implausible", 2.0, TICK,
          JOURNAL_AND_RECORD),
    Fault("no_gravity", "IMU data", "the accelerometer has lost gravity (only the motion)",
          "the chip's acceleration minus 1 g", "sensor_fault", "imu_gravity_implausible", 2.0, TICK,
          JOURNAL_AND_RECORD),
    Fault("accel_dead", "IMU data", "a dead accelerometer (a constant while the gyro moves)",
          "the chip's acceleration held at one raw value", "sensor_fault", "imu_channel_stuck", 3.0, TICK,
          JOURNAL_AND_RECORD),
    Fault("channel_stuck", "IMU data", "one channel stuck while the others move",
          "the chip's y acceleration held at one raw value", "sensor_fault", "imu_channel_stuck", 3.0, TICK,
          JOURNAL_AND_RECORD),
    Fault("gyro_zero", "IMU data", "a gyro reading exactly 0 on every axis", "the chip's gyro reads 0",
          "sensor_fault", "imu_gyro_zero", 0.5, TICK, JOURNAL_AND_RECORD),
    Fault("nan_two_of_three", "IMU data", "2 of 3 samples NaN in one channel (a trace)",
          "replayed: a trace with NaN in ax on 2 of 3 rows", "sensor_fault", "imu_reads_failing", 0.1, TICK,
          "replay's JSON line"),
    Fault("inf_channel", "IMU data", "inf in a channel on every sample (a trace)",
          "replayed: a trace with inf in gz from 2 s", "sensor_fault", "imu_read_failed", 0.03, TICK,
          "replay's JSON line"),
    Fault("accel_zero_throughout", "IMU data", "the accelerometer reads 0,0,0 from the start (a trace)",
          "replayed: a trace whose accelerometer is 0", "sensor_fault", "imu_gravity_implausible", 1.0, TICK,
          "replay's JSON line"),
    # -- the other sensors and the relay
    Fault("belt_sensor_lost", "sensors", "the belt sensor is lost (its reads fail)",
          "the pulse sensor's read raises OSError", "sensor_fault", "belt_stale", 0.5, TICK, JOURNAL_AND_RECORD),
    Fault("range_sensor_lost", "sensors", "the range sensor is lost (no more pings)",
          "the HC-SR04 stops reporting", "sensor_fault", "range_stale", 0.3, TICK, JOURNAL_AND_RECORD),
    Fault("relay_welded", "sensors", "the relay does not follow its command (a dead coil, a cut wire)",
          "the monitoring contact reads released while energized", "sensor_fault", "relay_feedback", 0.05, TICK,
          JOURNAL_AND_RECORD),
    # -- drivers that break their contract (a bug, not a bus error)
    Fault("imu_read_none", "drivers", "the IMU driver's read returns None",
          "the MPU-6050 driver's read() returns None from 102 s", "sensor_fault", "imu_driver_failed", 0.0, TICK,
          JOURNAL_AND_RECORD + "; the cause, once"),
    Fault("imu_read_interrupted", "drivers", "KeyboardInterrupt raised inside the IMU's read",
          "the fake bus raises KeyboardInterrupt inside a transaction", "sensor_fault", "imu_driver_failed", 0.0,
          TICK, JOURNAL_AND_RECORD + "; the cause, once"),
    Fault("belt_read_exits", "drivers", "SystemExit raised inside the belt sensor's read",
          "the pulse sensor's read() raises SystemExit", "sensor_fault", "belt_driver_failed", 0.0, TICK,
          JOURNAL_AND_RECORD + "; the cause, once"),
    Fault("belt_read_garbage", "drivers", "the belt sensor's read returns garbage",
          "the pulse sensor's read() returns a string", "sensor_fault", "belt_driver_failed", 0.0, TICK,
          JOURNAL_AND_RECORD + "; the cause, once"),
    # -- the loop itself
    Fault("read_blocks_2s", "loop", "a driver read blocks for 2 s", "the bus hangs 2 s inside a transaction",
          "sensor_fault", "loop_stalled", 0.0, DEADLINE, JOURNAL_AND_RECORD),
    Fault("loop_paused_3s", "loop", "the loop's thread is paused for 3 s", "3 s pass between two ticks",
          "sensor_fault", "loop_stalled", 0.0, DEADLINE, JOURNAL_AND_RECORD),
    Fault("clock_back", "loop", "the loop's clock steps back 10 s", "the clock is set 10 s back",
          "sensor_fault", "clock_backwards", 0.0, TICK, JOURNAL_AND_RECORD),
    Fault("clock_forward", "loop", "the loop's clock steps forward 5 s", "the clock is set 5 s ahead",
          "sensor_fault", "loop_late", 0.0, TICK, JOURNAL_AND_RECORD),
    Fault("sigterm", "loop", "SIGTERM (systemctl stop)", "the process gets SIGTERM", None, None, 0.0, AT_ONCE,
          "nothing: no trip"),
    Fault("sigint", "loop", "SIGINT (Ctrl-C)", "the process gets SIGINT", None, None, 0.0, AT_ONCE,
          "nothing: no trip"),
    # -- the trip folder
    Fault("trip_dir_full", "records", "the trip folder's disk is full (then the IMU is unplugged)",
          "every write of a record fails with ENOSPC", "sensor_fault", "imu_read_failed", 0.03, TICK,
          "journal line; 'could not write' once; no record"),
    Fault("trip_dir_read_only", "records", "the trip folder is read-only (then the IMU is unplugged)",
          "creating a record fails with EROFS", "sensor_fault", "imu_read_failed", 0.03, TICK,
          "journal line; 'could not write' once; no record"),
    Fault("trip_dir_symlink", "records", "the trip folder is a symbolic link (then the IMU is unplugged)",
          "record.trip_dir is a link to another folder", "sensor_fault", "imu_read_failed", 0.03, TICK,
          "journal line; the refusal said at start and for the record; nothing written through the link"),
)

BOUND_WORDS = {
    TICK: "within 2 ticks (20 ms) of the fault being detectable",
    DEADLINE: ("within the run permit's lease (4 ticks, 40 ms) of the last healthy tick, plus one "
               "watchdog check (every lease/8 = 5 ms in the service; the test steps it every 1 ms)"),
    AT_ONCE: "in the signal handler, before the loop ends",
}


def render() -> str:
    lines = [
        "# Reliability: the fault matrix",
        "",
        "<!-- generated by `python bench/fault_matrix.py --write` from the case table of",
        "     tests/test_fault_matrix.py; a test checks this page is current -->",
        "",
        "Every row is one case of `tests/test_fault_matrix.py`, which runs the real daemon",
        "(`treadguard run`'s own path: the MPU-6050 driver on a register-level fake I2C bus, the",
        "relay, belt and range drivers on gpiozero's MockFactory, a simulated clock; the trace",
        "rows through the replay daemon, the same loop on fake drivers), arms it at 101 s, injects",
        "the fault at 102 s, and asserts the relay released within its bound, the reason and",
        "detail of the trip, and what was written. Default settings at 100 Hz.",
        "",
        "Bounds: " + "; ".join(f"**{k}** {v}" for k, v in BOUND_WORDS.items()) + ".",
        "\"Detectable\" is the fault's own threshold (e.g. `imu.frozen_s` = 0.5 s for a frozen IMU,",
        "up to two `imu.gravity_window_s` windows for the gravity band).",
        "",
        "| # | group | fault | injected as | trip | detectable after | relay released | written |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, f in enumerate(FAULTS, 1):
        trip = f"`{f.reason}` / `{f.detail}`" if f.reason else "none: the daemon stops"
        lines.append(f"| {i} | {f.group} | {f.fault} | {f.injected} | {trip} | {f.detectable_after_s:g} s | "
                     f"{f.bound} | {f.writes} |")
    lines += [
        "",
        "What the in-process deadline cannot cover: a stop of the whole process (SIGSTOP, a",
        "D-state wait) stops the watchdog thread too, and a pause that holds the interpreter",
        "lock (a long garbage collection) delays it. With the level drive the relay keeper, a",
        "process of its own, enforces the same lease on the loop's heartbeats: a daemon stopped",
        "with SIGSTOP has its relay released 26 to 48 ms later (`python bench/frozen_daemon.py`;",
        "`tests/test_relay_keeper.py` stops the real daemon's process, kills it outright, and",
        "kills the keeper). A frozen Pi stops the keeper too: the charge-pump relay drive is the",
        "one that needs no software at all, and the hardware watchdog resets the Pi within 5 s.",
        "systemd's watchdog (`WatchdogSec=2s`) is the line after them for a stuck process.",
        "",
        "Trip records are written by a worker process, which the matrix replaces by the same",
        "handler in the test's process. A worker that is stopped (SIGSTOP) or stuck is tested",
        "on its own in `tests/test_worker_process.py`, also inside the real daemon: every record",
        "part it will never write is said lost in the journal, and SIGTERM still ends the daemon.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = render()
    if "--write" in argv:
        PAGE.write_text(text)
        print(f"wrote {PAGE.name}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
