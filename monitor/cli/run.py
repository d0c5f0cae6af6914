"""`treadguard run`: the daemon on real hardware, or on the bench with fake
hardware playing a trace in real time and a live status line."""

from __future__ import annotations

import argparse
import faulthandler
import sys
from pathlib import Path
from typing import Any, Callable

from monitor.cli.common import EXIT_FAILED, EXIT_OK, fail, package_file, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.formats.trace_format import TraceError
from monitor.formats.trace_reader import read_trace
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict
from monitor.service.clock import MonotonicClock, ScaledClock
from monitor.service.daemon import Daemon, LoopClock
from monitor.service.notify import Notifier, WatchdogFeeder
from monitor.service.replay import build_replay
from monitor.service.sideline import Sideline
from monitor.service.status_line import StatusLine
from monitor.service.status_socket import StatusService, desk_socket_path
from monitor.service.tick_budget import GcPolicy, TickBudget
from monitor.service.trip_record import TripRecorder
from monitor.service.worker_process import ProcessSideline

DEMO_TRACE = "demo/walk-then-stumble.csv.gz"
BENCH_AFTER_TRIP_S = 1.5  # keep playing a moment after a trip, to show it holds
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
    if args.hardware:
        if not args.config:
            return fail("`run --hardware` needs --config FILE (see `treadguard config --example`)")
        return run_hardware(config)
    return run_bench(config, args.bench or str(package_file(DEMO_TRACE)), args.speed)


def run_bench(config: Config, path: str, speed: float, clock: LoopClock | None = None) -> int:
    """Play a trace, or a bench scenario, through fake devices on a real-time clock (or the one given)."""
    if not 0 < speed <= MAX_BENCH_SPEED:
        return fail(f"--speed must be above 0 and at most {MAX_BENCH_SPEED:g} (the loop must keep up)")
    if not Path(path).exists():
        from bench.sim.scenarios import BY_NAME

        if path in BY_NAME:
            return run_scenario_live(path, speed, clock)
    try:
        trace = read_trace(path)
    except TraceError as err:
        return fail(str(err), EXIT_FAILED)
    if trace.samples == 0:
        return fail(f"{path}: the trace has no samples to play", EXIT_FAILED)
    t0_s = float(trace.t_s[0])
    clock = clock or ScaledClock(start_s=t0_s, speed=speed)
    daemon = build_replay(trace, config, clock)
    status = StatusLine(sys.stdout, t0_s=t0_s)
    printer = Sideline(status.handle, name="status")
    served = _serve_bench_status(config, daemon)
    daemon.on_tick = _chain(status.tick_hook(printer.offer), served)
    sensors = ["imu"] + (["belt"] if daemon.core.has_belt else []) + (["range"] if daemon.core.has_range else [])
    print(f"treadguard bench: playing {path} ({trace.duration_s:.1f} s, walking {daemon.core.walking}, "
          f"sensors: {', '.join(sensors)}) on fake hardware at {speed:g}x real time; Ctrl-C stops")
    daemon.install_signal_handlers()
    try:
        stats = daemon.run(until_s=float(trace.t_s[-1]), arm_at_start=True, stop_on_trip=True,
                           after_trip_s=BENCH_AFTER_TRIP_S)
    finally:
        daemon.restore_signal_handlers()
        printer.close()
        if served is not None:
            served.close()
    print()
    first = stats.first_trip
    if first is None or first.trip is None:
        print(f"no trip: the monitor stayed armed for the whole trace ({stats.ticks} ticks)")
    else:
        print(f"TRIPPED at {first.t_s - t0_s:.2f} s into the trace: {first.trip.reason}")
        for problem in first.trip.problems:
            print(f"  because {problem.describe()}")
        print("  the relay was released in that tick; the belt stays stopped until a person resets")
    return EXIT_OK


def run_scenario_live(name: str, speed: float, clock: LoopClock | None = None) -> int:
    """One bench scenario, closed loop, in real time: the simulated walker, belt and
    sensors, the real daemon, and a status line."""
    from bench.sim.run import bench_config, build, run_treadguard
    from bench.sim.scenarios import BY_NAME

    scenario = BY_NAME[name]
    print(f"treadguard bench: scenario {name}: {scenario.summary} ({scenario.duration_s:g} s, "
          f"walking {scenario.walking}; the event at {scenario.onset_s:g} s; the walker arms it at 1 s) "
          f"at {speed:g}x real time; Ctrl-C stops")
    status = StatusLine(sys.stdout)
    printer = Sideline(status.handle, name="status")
    served = _serve_bench_status(bench_config(scenario.walking), None)
    try:
        outcome = run_treadguard(build(scenario), clock=clock or ScaledClock(0.0, speed),
                                 on_tick=_chain(status.tick_hook(printer.offer), served))
    finally:
        printer.close()
        if served is not None:
            served.close()
    print()
    if outcome.tripped:
        print(f"TRIPPED {outcome.trip_s:+.2f} s from the event: {outcome.reason}")
    else:
        print("no trip")
    print(f"the walker's smallest distance to the rear edge while the belt moved: {outcome.margin_m:.2f} m; "
          f"{'safe' if outcome.safe else 'NOT SAFE'}")
    return EXIT_OK


def run_hardware(config: Config, *, clock: LoopClock | None = None, i2c_bus: Any = None,
                 pin_factory: Any = None, until_s: float | None = None,
                 on_tick: Callable[[Verdict, SafetyCore], Any] | None = None) -> int:
    """The daemon on the devices the config names, until SIGTERM/SIGINT.

    A real run passes only the config: the monotonic clock, /dev/i2c-N and the lgpio
    pin factory. Tests pass a simulated clock, a fake bus, gpiozero's MockFactory,
    an end time and a tick hook; everything else, signals included, is the real path.
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
    if is_real_time:
        from monitor.service.realtime import prepare_process

        for line in prepare_process().lines:
            print(f"treadguard: {line}", flush=True)
    core = SafetyCore(config, start_s=clock.now())
    # The records are written in a worker process: formatting and compressing them would
    # otherwise hold the GIL the loop needs, and its ticks would come late.
    records = ProcessSideline("monitor.service.trip_record:stderr_writer", (config.record.trip_dir,),
                              maxsize=4, name="trip-records")
    recorder = TripRecorder(core, records.offer)

    def hooks(verdict: Verdict, core: SafetyCore) -> None:
        recorder.on_tick(verdict, core)
        if served is not None:
            served.hook(verdict, core)
        if on_tick is not None:
            on_tick(verdict, core)

    service = ServiceNotifier(Notifier.from_environment(), hooks)
    budget = TickBudget(1.0 / config.loop.rate_hz)
    daemon = Daemon(core, devices, clock, on_tick=service.on_tick, budget=budget, gc_policy=GcPolicy(budget))
    served = _serve_status(config, daemon, config.status.socket_path)
    daemon.install_signal_handlers()
    _enable_stack_dumps()
    print("treadguard: running; the relay stays released until a reset "
          "(`systemctl kill -s USR1 treadguard`) while every check passes", flush=True)
    service.notifier.ready("running; relay released until a reset")  # devices open, relay released
    try:
        daemon.run(until_s=until_s)
    finally:
        service.notifier.stopping("stopped; relay released")
        daemon.restore_signal_handlers()
        recorder.finish(core)
        records.close()
        if served is not None:
            served.close()
        print("treadguard: stopped; the loop's timing:\n" + budget.describe(), flush=True)
    return EXIT_OK


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
        print(f"treadguard bench: `treadguard status --watch` shows its state ({served.server.path})")
    return served


def _chain(first: Callable[[Verdict, SafetyCore], Any],
           served: StatusService | None) -> Callable[[Verdict, SafetyCore], Any]:
    if served is None:
        return first

    def both(verdict: Verdict, core: SafetyCore) -> None:
        first(verdict, core)
        served.hook(verdict, core)
    return both


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


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
