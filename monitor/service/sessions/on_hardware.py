"""The daemon on the real devices a config names: the loop, its permit, the console, status, trip records and systemd, until SIGTERM."""

from __future__ import annotations

import faulthandler
import os
import sys
from typing import Any, Callable

from drivers.interfaces import Relay
from monitor.config.schema import Config
from monitor.formats.progress_file import Loaded
from monitor.safety.core import SafetyCore
from monitor.safety.latch import LatchState
from monitor.safety.verdict import Verdict
from monitor.service.loop.clock import MonotonicClock
from monitor.service.loop.daemon import Daemon, LoopClock
from monitor.service.loop.deadline import DeadlineRelay
from monitor.service.loop.stop_guard import protection
from monitor.service.loop.tick_budget import GcPolicy, TickBudget
from monitor.service.loop.warm_up import warm_up
from monitor.service.outputs.direction_journal import DirectionJournal
from monitor.service.outputs.journal import TripJournal
from monitor.service.outputs.notify import Notifier, WatchdogFeeder
from monitor.service.outputs.progress import ProgressKeeper
from monitor.service.outputs.progress import load as load_progress
from monitor.service.outputs.sideline import Sideline
from monitor.service.outputs.status_socket import StatusService
from monitor.service.sessions.exit_status import EXIT_FAILED, EXIT_OK, fail
from monitor.service.sessions.permit import open_permitted
from monitor.service.trips.trip_record import RecordRefused, TripRecorder, open_folder, record_part
from monitor.service.trips.worker_process import ProcessSideline


def run_hardware(config: Config, *, clock: LoopClock | None = None, i2c_bus: Any = None,
                 pin_factory: Any = None, until_s: float | None = None,
                 on_tick: Callable[[Verdict, SafetyCore], Any] | None = None,
                 make_permit: Callable[[Relay, float], DeadlineRelay] | None = None,
                 relay_keeper: tuple[str, dict] | None = None) -> int:
    """The daemon on the devices the config names, until SIGTERM/SIGINT.

    A real run passes only the config: the monotonic clock, /dev/i2c-N and the lgpio
    pin factory, and with relay.drive = "level" the relay keeper process owns the relay
    line (monitor.service.loop.relay_keeper). Tests pass a simulated clock, a fake bus,
    gpiozero's MockFactory, an end time, a tick hook and a run permit whose watchdog
    they step on their own clock, and, for a keeper, the relay factory it runs
    ("module:function", its JSON argument); everything else, signals included, is the
    real path.
    """
    from monitor.config.bus_load import check_config
    from monitor.service.sessions.hardware import HardwareError

    is_real_time = clock is None  # tests pass a simulated clock: no scheduling or memory changes then
    clock = clock or MonotonicClock()
    bus_load = check_config(config)
    if bus_load is not None:
        if bus_load.is_too_high:
            return fail(f"{bus_load.refusal()}; nothing was started, the relay stays released")
        print(f"treadguard: {bus_load.describe()}", flush=True)
    # Permission to run expires: the relay is energized only while the loop renews its lease.
    try:
        devices, has_keeper = open_permitted(config, clock, i2c_bus=i2c_bus, pin_factory=pin_factory,
                                             make_permit=make_permit, relay_keeper=relay_keeper)
    except HardwareError as err:
        return fail(f"{err}; nothing was started, the relay stays released", EXIT_FAILED)
    print(f"treadguard: if the monitor freezes: {protection(config, has_keeper=has_keeper)}", flush=True)
    if is_real_time:
        from monitor.service.loop.realtime import prepare_process

        for line in prepare_process().lines:
            print(f"treadguard: {line}", flush=True)
    progress = _load_progress(config)
    core = SafetyCore(config, start_s=clock.now(), ceiling_mps=progress.progress.ceiling_mps)
    keeper = ProgressKeeper(config, progress.progress) if config.ceiling.enabled else None
    directions = DirectionJournal()
    try:
        console = _open_console(config, devices, clock, core)
    except HardwareError as err:
        devices.close()
        return fail(f"{err}; the relay stays released", EXIT_FAILED)
    # The records are written in a worker process: formatting and compressing them would
    # otherwise hold the GIL the loop needs, and its ticks would come late.
    _check_record_folder(config.record.trip_dir)
    records = ProcessSideline("monitor.service.trips.trip_record:stderr_writer", (config.record.trip_dir,),
                              maxsize=4, name="trip-records", on_lost=_say_record_lost)
    # Each trip is said in the journal first, from its own thread, then handed to the records.
    journal = TripJournal(records.offer)
    recorder = TripRecorder(core, journal.offer)

    def hooks(verdict: Verdict, core: SafetyCore) -> None:
        recorder.on_tick(verdict, core)
        if keeper is not None:
            keeper.on_tick(verdict, core)
        directions.on_tick(verdict, core)
        if console is not None:
            console.on_tick(verdict, core)
        else:  # the console says its own refusals; without one, the journal says a refused USR1
            journal.on_tick(verdict, core)
        if served is not None:
            served.hook(verdict, core)
        if on_tick is not None:
            on_tick(verdict, core)

    service = ServiceNotifier(Notifier.from_environment(), hooks)
    warm_up(core, clock.now())  # the loop's code run once on a copy: its first ticks run nothing for the first time
    budget = TickBudget(1.0 / config.loop.rate_hz)
    said = Sideline(_say, maxsize=16, name="journal-lines")  # lines the loop hands over, said beside it
    daemon = Daemon(core, devices, clock, on_tick=service.on_tick, budget=budget, gc_policy=GcPolicy(budget),
                    say=said.offer)
    served = serve_status(config, daemon, config.status.socket_path)
    if served is not None and console is not None:
        served.publisher.extras.append(console.status)
    if served is not None:  # `treadguard status` says what releases the relay if this process freezes
        guard = {"frozen_guard": protection(config, has_keeper=has_keeper)}
        served.publisher.extras.append(lambda: guard)
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
        said.close()
        records.close(timeout_s=RECORDS_CLOSE_S)
        if keeper is not None:
            keeper.close()
        directions.close()
        if served is not None:
            served.close()
        if console is not None:
            console.close()
        print("treadguard: stopped; the loop's timing:\n" + budget.describe(), flush=True)
    return EXIT_OK


# What the trip-record worker gets to finish at a stop, so that a stopped or stuck one is ended and
# said within systemd's TimeoutStopSec=5s (then SIGTERM, 1 s, and SIGKILL).
RECORDS_CLOSE_S = 2.0


def _open_console(config: Config, devices: Any, clock: LoopClock, core: SafetyCore) -> Any:
    """The arm button, status light and buzzer the config names, on the relay's pin factory."""
    from monitor.service.outputs.console import open_console
    from monitor.service.sessions.hardware import HardwareError

    try:
        return open_console(config, pin_factory=getattr(devices, "pin_factory", None), clock=clock.now,
                            core=core, say=_say)
    except Exception as err:
        raise HardwareError(f"[console] a device could not be opened ({type(err).__name__}: {err}); "
                            f"check the console pins in the config and that no other program holds them") from None


def serve_status(config: Config, daemon: Daemon | None, path: str) -> StatusService | None:
    """The read-only status socket for `treadguard status` and the home bridge, if enabled."""
    if not config.status.enabled:
        return None
    return StatusService.start(path, interval_s=config.status.interval_s, rate_hz=config.loop.rate_hz,
                               daemon=daemon, say=_say)


def chain_hooks(*hooks: Any) -> Callable[[Verdict, SafetyCore], Any]:
    """One tick hook calling each given one (None: left out) in turn."""
    calls = [h for h in hooks if h is not None]

    def each(verdict: Verdict, core: SafetyCore) -> None:
        for call in calls:
            call(verdict, core)
    return each


def _load_progress(config: Config) -> Loaded:
    """The backward ceiling kept on disk; a problem with the file is said, never fatal."""
    loaded = load_progress(config)
    if loaded.message is not None:
        _say(f"treadguard: {loaded.message}")
    if config.ceiling.enabled:
        _say(f"treadguard: backward ceiling {loaded.progress.ceiling_mps:g} m/s"
             + (" (a new walker)" if loaded.is_new else f" (from {config.ceiling.progress_file})"))
    return loaded


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _say_record_lost(item: object, why: str) -> None:
    """Every record part the worker will never write, said in the journal (the trip itself was said)."""
    _say(f"treadguard: trip record lost: {record_part(item)}: {why}. The trip itself is in the "
         f"journal; if this repeats, check the trip-records worker process (is it stopped?) and the trip "
         f"folder's disk, and restart treadguard")


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
