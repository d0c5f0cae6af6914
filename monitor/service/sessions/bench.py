"""A live bench session: a trace or a simulated scenario played in real time through the daemon loop on fake devices, with a status line."""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path
from typing import Any

from monitor.config.schema import Config
from monitor.formats.trace_format import TraceError
from monitor.formats.trace_reader import read_trace
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict
from monitor.service.loop.clock import ScaledClock
from monitor.service.loop.daemon import Daemon, LoopClock
from monitor.service.loop.tick_budget import GcPolicy
from monitor.service.loop.warm_up import warm_up
from monitor.service.outputs.sideline import Sideline
from monitor.service.outputs.status_line import StatusLine
from monitor.service.outputs.status_socket import StatusService, desk_socket_path
from monitor.service.sessions.bench_session import BenchSession
from monitor.service.sessions.exit_status import EXIT_FAILED, EXIT_OK, fail
from monitor.service.sessions.on_hardware import chain_hooks, serve_status
from monitor.service.sessions.replay import build_replay
from monitor.service.trips.trip_record import TripRecorder, trip_record_writer

BENCH_AFTER_TRIP_S = 1.5  # keep playing a moment after a trip, to show it holds
MIN_BENCH_SPEED = 0.1  # slower, and one tick lasts a tenth of a second of real time or more
MAX_BENCH_SPEED = 20.0  # faster, and a tick's real interval nears the loop's own work: it would run late


def _scenario_named(path: str) -> tuple[str | None, int | None]:
    """(scenario name, None) when path names one; (None, exit status) when it looks like a
    misspelt one (said so); (None, None) when it is meant as a trace file."""
    from monitor.sim.scenarios import BY_NAME, unknown_scenario_message

    if path in BY_NAME:
        return path, None
    if os.sep in path or "." in os.path.basename(path):  # a file name: read_trace says what is wrong
        return None, None
    return None, fail(unknown_scenario_message(path) + "; or give a trace file (.csv, .csv.gz)")


class _BenchRun:
    """The pieces every live bench session shares: the status line and its printer,
    the session log, the trip records, and the signals (Ctrl-C and SIGTERM stop,
    SIGUSR1 re-arms), each acted on within a fraction of a second."""

    def __init__(self, t0_s: float, clock: LoopClock, trip_dir: str | None) -> None:
        self.clock = clock
        self.status = StatusLine(sys.stdout, t0_s=t0_s)
        self.printer = Sideline(self.status.handle, name="status")
        self.session = BenchSession(self.status, t0_s)
        self.said: list[str] = []
        self.trip_dir = trip_dir
        self.records: Sideline | None = None
        self.recorder: TripRecorder | None = None
        self._status_hook = self.status.tick_hook(self.printer.offer)
        self._previous: dict[int, Any] = {}

    def prepare(self, core: SafetyCore, start_s: float) -> None:
        """Before the loop: the trip records' thread, and the loop's code run once (warm_up),
        so the first ticks start no thread and run no code for the first time."""
        if self.trip_dir is not None and self.recorder is None:
            self.records = Sideline(trip_record_writer(self.trip_dir, self.said.append), maxsize=4,
                                    name="trip-records")
            self.recorder = TripRecorder(core, self.records.offer)
        warm_up(core, start_s, on_tick=self.status.line)
        gc.collect()  # what set-up left, collected and frozen now: the loop's GcPolicy then has little to do
        gc.freeze()
        # The trace starts when the loop does: played from the set-up's start, the first tick
        # would take in every sample of the set-up's time at once (0.7 s of them under emulation).
        restart = getattr(self.clock, "restart", None)
        if restart is not None:
            restart()

    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        self.session.on_tick(verdict, core)
        if self.recorder is not None:
            self.recorder.on_tick(verdict, core)
        self._status_hook(verdict, core)

    def install_signals(self, daemon: Daemon) -> None:
        def stop(signum: int, frame: Any) -> None:
            self.session.stopped_by = "you" if signum == signal.SIGINT else signal.Signals(signum).name
            daemon.stop()
            self._wake()

        def rearm(signum: int, frame: Any) -> None:
            self.session.ask_rearm()
            daemon.core.request_reset()
            self._wake()

        for signum, handler in ((signal.SIGINT, stop), (signal.SIGTERM, stop), (signal.SIGUSR1, rearm)):
            self._previous[signum] = signal.signal(signum, handler)

    def _wake(self) -> None:
        wake = getattr(self.clock, "wake", None)
        if wake is not None:
            wake()

    def finish(self, core: SafetyCore | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        self.printer.close()
        self.status.end()
        if self.recorder is not None and core is not None:
            self.recorder.finish(core)
        if self.records is not None:
            self.records.close()

    def tell_records(self) -> None:
        for line in self.said:
            say(line.replace("treadguard: ", "", 1).replace(" and ", ", with its data in ", 1))
        if self.said and self.trip_dir is not None:
            say(f"explain it: treadguard trips show latest --dir {self.trip_dir}")


def say(text: str, indent: str = "", out: Any = None) -> None:
    """Print prose wrapped at the terminal's width (80 columns at most), words never split."""
    import shutil
    import textwrap

    width = min(80, shutil.get_terminal_size((80, 24)).columns)
    print(textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                        break_long_words=False, break_on_hyphens=False), file=out or sys.stdout)


def _explained(problem: Any, config: Config, walking: str) -> str:
    from monitor.service.trips.trip_explain import explain, thresholds_from_config

    return explain(problem.detail, problem.values, thresholds_from_config(config, walking))


def run_bench(config: Config, path: str, speed: float, clock: LoopClock | None = None, *,
              trip_dir: str | None = None, status_path: str | None = None) -> int:
    """Play a trace, or a bench scenario, through fake devices on a real-time clock (or the one given)."""
    if not MIN_BENCH_SPEED <= speed <= MAX_BENCH_SPEED:
        return fail(f"--speed {speed:g} is out of range: the bench plays from {MIN_BENCH_SPEED:g}x "
                    f"(slower, and a tick would take seconds) to {MAX_BENCH_SPEED:g}x real time "
                    f"(faster, and the loop could not keep up)")
    if not Path(path).exists():
        name, refused = _scenario_named(path)
        if refused is not None:
            return refused
        if name is not None:
            return run_scenario_live(name, speed, clock, trip_dir=trip_dir, status_path=status_path)
    try:
        trace = read_trace(path)
    except TraceError as err:
        return fail(str(err), EXIT_FAILED)
    if trace.samples == 0:
        return fail(f"{path}: the trace has no samples to play", EXIT_FAILED)
    t0_s = float(trace.t_s[0])
    clock = clock or ScaledClock(start_s=t0_s, speed=speed)
    daemon = build_replay(trace, config, clock)
    bench = _BenchRun(t0_s, clock, trip_dir)
    session = bench.session
    served = _serve_bench_status(config, daemon, status_path)
    console = _bench_console(config, served)
    status_hooks = chain_hooks(bench.on_tick, console.on_tick, served and served.hook)

    def on_tick(verdict: Verdict, core: SafetyCore) -> None:
        status_hooks(verdict, core)
        # After a trip, play on a moment to show it holds; a re-arm plays on to the end.
        if session.trips and session.state is LatchState.TRIPPED \
                and verdict.t_s - t0_s >= session.trips[-1][0] + BENCH_AFTER_TRIP_S:
            daemon.stop()

    daemon.on_tick = on_tick
    sensors = ["imu"] + (["belt"] if daemon.core.has_belt else []) + (["range"] if daemon.core.has_range else [])
    say(f"treadguard bench: playing {path} ({trace.duration_s:.1f} s, walking {daemon.core.walking}, "
        f"sensors: {', '.join(sensors)}) on fake hardware at {speed:g}x real time; "
        f"Ctrl-C stops, SIGUSR1 re-arms")
    bench.prepare(daemon.core, t0_s)
    daemon.gc_policy = GcPolicy()  # as in the service: collected and frozen now, no full collection in the loop
    bench.install_signals(daemon)
    try:
        stats = daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True)
    finally:
        bench.finish(daemon.core)
        console.close()
        if served is not None:
            served.close()
    first = stats.first_trip
    if first is not None and first.trip is not None:
        print(f"TRIPPED at {first.t_s - t0_s:.2f} s into the trace: {first.trip.reason} ({first.trip.detail})")
        for problem in first.trip.problems:
            say(f"because {_explained(problem, config, daemon.core.walking)}", "  ")
        say("the relay was released in that tick; the belt stays stopped until a person re-arms", "  ")
    elif session.stopped_by is None:
        print(f"no trip: the monitor stayed armed for the whole trace ({stats.ticks} ticks)")
    say(session.summary())
    bench.tell_records()
    return EXIT_OK


def run_scenario_live(name: str, speed: float, clock: LoopClock | None = None, *,
                      trip_dir: str | None = None, status_path: str | None = None) -> int:
    """One bench scenario, closed loop, in real time: the simulated walker, belt and
    sensors, the real daemon, and a status line."""
    from monitor.sim.run import bench_config, build, run_treadguard
    from monitor.sim.scenarios import BY_NAME

    scenario = BY_NAME[name]
    say(f"treadguard bench: scenario {name}: {scenario.summary} ({scenario.duration_s:g} s, "
        f"walking {scenario.walking}; the event at {scenario.onset_s:g} s; the walker arms it at 1 s) "
        f"at {speed:g}x real time; Ctrl-C stops, SIGUSR1 re-arms")
    clock = clock or ScaledClock(0.0, speed)
    bench = _BenchRun(0.0, clock, trip_dir)
    served = _serve_bench_status(bench_config(scenario.walking), None, status_path)
    daemons: list[Daemon] = []
    console = _bench_console(bench_config(scenario.walking), served)

    def on_daemon(daemon: Daemon) -> None:
        daemons.append(daemon)
        bench.prepare(daemon.core, clock.now())
        bench.install_signals(daemon)

    try:
        outcome = run_treadguard(build(scenario), clock=clock,
                                 on_tick=chain_hooks(bench.on_tick, console.on_tick, served and served.hook),
                                 on_daemon=on_daemon)
    finally:
        bench.finish(daemons[0].core if daemons else None)
        console.close()
        if served is not None:
            served.close()
    if outcome.tripped:
        print(f"TRIPPED {outcome.trip_s:+.2f} s from the event: {outcome.reason}")
    elif bench.session.stopped_by is None:
        print("no trip")
    if bench.session.stopped_by is None:
        say(f"the walker's smallest distance to the rear edge while the belt moved: {outcome.margin_m:.2f} m; "
            f"{'safe' if outcome.safe else 'NOT SAFE'}")
    say(bench.session.summary())
    bench.tell_records()
    return EXIT_OK


def _serve_bench_status(config: Config, daemon: Daemon | None, path: str | None) -> StatusService | None:
    """A bench run serves status at `path` (a config's own [status] socket_path), else in the user's
    own runtime folder; never on the service's socket."""
    served = serve_status(config, daemon, path or desk_socket_path())
    if served is not None:
        say(f"treadguard bench: `treadguard status --watch` shows its state ({served.server.path})")
    return served


def _bench_console(config: Config, served: StatusService | None) -> Any:
    """The status light and buzzer on mock pins, shown by `treadguard status`."""
    from monitor.service.outputs.console import bench_console

    console = bench_console(config)
    if served is not None:
        served.publisher.extras.append(console.status)
    return console



