"""`treadguard run`: the daemon on real hardware, or on the bench with fake
hardware playing a trace in real time and a live status line."""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from drivers.interfaces import Relay
from monitor.cli.common import EXIT_FAILED, EXIT_OK, bench_trip_dir, fail, package_file, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.formats.trace_format import TraceError
from monitor.formats.trace_reader import read_trace
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict
from monitor.service.bench_session import BenchSession
from monitor.service.clock import MonotonicClock, ScaledClock
from monitor.service.daemon import Daemon, LoopClock
from monitor.service.deadline import DeadlineRelay, lease_for
from monitor.service.journal import TripJournal
from monitor.service.notify import Notifier, WatchdogFeeder
from monitor.service.replay import build_replay
from monitor.service.sideline import Sideline
from monitor.service.status_line import StatusLine
from monitor.service.status_socket import StatusService, desk_socket_path
from monitor.service.tick_budget import GcPolicy, TickBudget
from monitor.service.trip_record import RecordRefused, TripRecorder, open_folder, trip_record_writer
from monitor.service.worker_process import ProcessSideline

DEMO_TRACE = "demo/walk-then-stumble.csv.gz"
BENCH_AFTER_TRIP_S = 1.5  # keep playing a moment after a trip, to show it holds
MIN_BENCH_SPEED = 0.1  # slower, and one tick lasts a tenth of a second of real time or more
MAX_BENCH_SPEED = 20.0  # faster, and a tick's real interval nears the loop's own work: it would run late


def _load(args: argparse.Namespace) -> Config | int:
    if not args.config:
        return Config()
    try:
        return load_config(args.config)
    except ConfigError as err:
        return report_config_error(err, "nothing was started")


def run_command(args: argparse.Namespace) -> int:
    config = _load(args)
    if isinstance(config, int):
        return config
    if args.bench is None:  # `run --config FILE` (or `--hardware --config FILE`): the real treadmill
        if not args.config:
            return fail("`run` needs --config FILE for the real treadmill (see `treadguard config --example`), "
                        "or --bench to try it on fake hardware")
        return run_hardware(config)
    trip_dir = config.record.trip_dir if args.config else bench_trip_dir()
    return run_bench(config, args.bench or str(package_file(DEMO_TRACE)), args.speed, trip_dir=trip_dir)


def _scenario_named(path: str) -> tuple[str | None, int | None]:
    """(scenario name, None) when path names one; (None, exit status) when it looks like a
    misspelt one (said so); (None, None) when it is meant as a trace file."""
    from bench.sim.scenarios import BY_NAME, unknown_scenario_message

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

    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        self.session.on_tick(verdict, core)
        if self.trip_dir is not None:
            if self.recorder is None:
                self.records = Sideline(trip_record_writer(self.trip_dir, self.said.append), maxsize=4,
                                        name="trip-records")
                self.recorder = TripRecorder(core, self.records.offer)
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
    from monitor.service.trip_explain import explain, thresholds_from_config

    return explain(problem.detail, problem.values, thresholds_from_config(config, walking))


def run_bench(config: Config, path: str, speed: float, clock: LoopClock | None = None, *,
              trip_dir: str | None = None) -> int:
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
            return run_scenario_live(name, speed, clock, trip_dir=trip_dir)
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
    served = _serve_bench_status(config, daemon)
    console = _bench_console(config, served)
    status_hooks = _chain(bench.on_tick, console.on_tick, served and served.hook)

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
                      trip_dir: str | None = None) -> int:
    """One bench scenario, closed loop, in real time: the simulated walker, belt and
    sensors, the real daemon, and a status line."""
    from bench.sim.run import bench_config, build, run_treadguard
    from bench.sim.scenarios import BY_NAME

    scenario = BY_NAME[name]
    say(f"treadguard bench: scenario {name}: {scenario.summary} ({scenario.duration_s:g} s, "
        f"walking {scenario.walking}; the event at {scenario.onset_s:g} s; the walker arms it at 1 s) "
        f"at {speed:g}x real time; Ctrl-C stops, SIGUSR1 re-arms")
    clock = clock or ScaledClock(0.0, speed)
    bench = _BenchRun(0.0, clock, trip_dir)
    served = _serve_bench_status(bench_config(scenario.walking), None)
    daemons: list[Daemon] = []
    console = _bench_console(bench_config(scenario.walking), served)

    def on_daemon(daemon: Daemon) -> None:
        daemons.append(daemon)
        bench.install_signals(daemon)

    try:
        outcome = run_treadguard(build(scenario), clock=clock,
                                 on_tick=_chain(bench.on_tick, console.on_tick, served and served.hook),
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


def run_hardware(config: Config, *, clock: LoopClock | None = None, i2c_bus: Any = None,
                 pin_factory: Any = None, until_s: float | None = None,
                 on_tick: Callable[[Verdict, SafetyCore], Any] | None = None,
                 make_permit: Callable[[Relay, float], DeadlineRelay] | None = None) -> int:
    """The daemon on the devices the config names, until SIGTERM/SIGINT.

    A real run passes only the config: the monotonic clock, /dev/i2c-N and the lgpio
    pin factory. Tests pass a simulated clock, a fake bus, gpiozero's MockFactory,
    an end time, a tick hook and a run permit whose watchdog they step on their own
    clock; everything else, signals included, is the real path.
    """
    from monitor.service.bus_load import check_config
    from monitor.service.hardware import HardwareError, open_devices

    is_real_time = clock is None  # tests pass a simulated clock: no scheduling or memory changes then
    clock = clock or MonotonicClock()
    bus_load = check_config(config)
    if bus_load is not None:
        if bus_load.is_too_high:
            return fail(f"{bus_load.refusal()}; nothing was started, the relay stays released")
        print(f"treadguard: {bus_load.describe()}", flush=True)
    try:
        devices = open_devices(config, clock, i2c_bus=i2c_bus, pin_factory=pin_factory)
    except HardwareError as err:
        return fail(f"{err}; the relay stays released", EXIT_FAILED)
    # Permission to run expires: the relay is energized only while the loop renews its lease.
    lease_s = lease_for(config.loop.rate_hz, config.loop.deadline_ticks)
    devices.relay = (make_permit or DeadlineRelay)(devices.relay, lease_s)
    if is_real_time:
        from monitor.service.realtime import prepare_process

        for line in prepare_process().lines:
            print(f"treadguard: {line}", flush=True)
    core = SafetyCore(config, start_s=clock.now())
    try:
        console = _open_console(config, devices, clock, core)
    except HardwareError as err:
        devices.close()
        return fail(f"{err}; the relay stays released", EXIT_FAILED)
    # The records are written in a worker process: formatting and compressing them would
    # otherwise hold the GIL the loop needs, and its ticks would come late.
    _check_record_folder(config.record.trip_dir)
    records = ProcessSideline("monitor.service.trip_record:stderr_writer", (config.record.trip_dir,),
                              maxsize=4, name="trip-records")
    # Each trip is said in the journal first, from its own thread, then handed to the records.
    journal = TripJournal(records.offer)
    recorder = TripRecorder(core, journal.offer)

    def hooks(verdict: Verdict, core: SafetyCore) -> None:
        recorder.on_tick(verdict, core)
        if console is not None:
            console.on_tick(verdict, core)
        if served is not None:
            served.hook(verdict, core)
        if on_tick is not None:
            on_tick(verdict, core)

    service = ServiceNotifier(Notifier.from_environment(), hooks)
    budget = TickBudget(1.0 / config.loop.rate_hz)
    daemon = Daemon(core, devices, clock, on_tick=service.on_tick, budget=budget, gc_policy=GcPolicy(budget))
    served = _serve_status(config, daemon, config.status.socket_path)
    if served is not None and console is not None:
        served.publisher.extras.append(console.status)
    daemon.install_signal_handlers(on_reset=console.remote_arm if console is not None else None)
    _enable_stack_dumps()
    how = "holding the arm button 1 s or " if console is not None and console.button is not None else ""
    print(f"treadguard: running; the relay stays released until a reset ({how}"
          f"`systemctl kill -s USR1 treadguard`) while every check passes", flush=True)
    service.notifier.ready("running; relay released until a reset")  # devices open, relay released
    try:
        daemon.run(until_s=until_s)
    finally:
        service.notifier.stopping("stopped; relay released")
        daemon.restore_signal_handlers()
        recorder.finish(core)
        journal.close()
        records.close()
        if served is not None:
            served.close()
        if console is not None:
            console.close()
        print("treadguard: stopped; the loop's timing:\n" + budget.describe(), flush=True)
    return EXIT_OK


def _open_console(config: Config, devices: Any, clock: LoopClock, core: SafetyCore) -> Any:
    """The arm button, status light and buzzer the config names, on the relay's pin factory."""
    from monitor.service.console import open_console
    from monitor.service.hardware import HardwareError

    try:
        return open_console(config, pin_factory=getattr(devices, "pin_factory", None), clock=clock.now,
                            core=core, say=_say)
    except Exception as err:
        raise HardwareError(f"[console] a device could not be opened ({type(err).__name__}: {err}); "
                            f"check the console pins in the config and that no other program holds them") from None


def _serve_status(config: Config, daemon: Daemon | None, path: str) -> StatusService | None:
    """The read-only status socket for `treadguard status` and the home bridge, if enabled."""
    if not config.status.enabled:
        return None
    return StatusService.start(path, interval_s=config.status.interval_s, rate_hz=config.loop.rate_hz,
                               daemon=daemon, say=_say)


def _serve_bench_status(config: Config, daemon: Daemon | None) -> StatusService | None:
    """A bench run serves status in the user's own runtime folder, never on the service's socket."""
    served = _serve_status(config, daemon, desk_socket_path())
    if served is not None:
        say(f"treadguard bench: `treadguard status --watch` shows its state ({served.server.path})")
    return served


def _bench_console(config: Config, served: StatusService | None) -> Any:
    """The status light and buzzer on mock pins, shown by `treadguard status`."""
    from monitor.service.console import bench_console

    console = bench_console(config)
    if served is not None:
        served.publisher.extras.append(console.status)
    return console


def _chain(*hooks: Any) -> Callable[[Verdict, SafetyCore], Any]:
    """One tick hook calling each given one (None: left out) in turn."""
    calls = [h for h in hooks if h is not None]

    def each(verdict: Verdict, core: SafetyCore) -> None:
        for call in calls:
            call(verdict, core)
    return each


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _check_record_folder(folder: str) -> None:
    """Say at start, once, when trip records could not be written (the trips still reach the journal)."""
    try:
        os.close(open_folder(folder))
    except (RecordRefused, OSError) as err:
        reason = str(err) if isinstance(err, RecordRefused) else f"{err.strerror or err}"
        _say(f"treadguard: trip records cannot be written into {folder}: {reason}; trips are still said in "
             f"the journal. Check record.trip_dir (the service's StateDirectory is /var/lib/treadguard)")


def _enable_stack_dumps() -> None:
    """On a watchdog SIGABRT, every thread's stack goes to the process's stderr (the journal)."""
    try:
        faulthandler.enable(file=sys.__stderr__, all_threads=True)
    except (AttributeError, OSError, ValueError):  # no real stderr: nothing to write the stacks to
        pass


class ServiceNotifier:
    """Tells systemd how the loop is doing: WATCHDOG=1 while it ticks on time, and
    its state in STATUS. Sends never block (monitor.notify drops them instead)."""

    def __init__(self, notifier: Notifier, chained: Callable[[Verdict, SafetyCore], Any] | None = None) -> None:
        self.notifier = notifier
        self.feeder = WatchdogFeeder.from_environment(notifier)
        self.chained = chained
        self._state: LatchState | None = None

    def on_tick(self, verdict: Verdict, core: SafetyCore) -> None:
        # A late tick is not healthy; a stalled loop never gets here at all.
        is_on_time = not any(p.detail == "loop_late" for p in verdict.problems)
        self.feeder.feed_if_due(verdict.t_s, is_healthy=is_on_time)
        if verdict.state is not self._state:
            self._state = verdict.state
            if verdict.trip is not None:
                self.notifier.status(f"TRIPPED: {verdict.trip.describe()}; relay released until a reset")
            else:
                self.notifier.status(verdict.state.value)
        if self.chained is not None:
            self.chained(verdict, core)
