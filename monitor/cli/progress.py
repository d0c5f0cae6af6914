"""`treadguard progress`: show, set or reset the backward walker's speed ceiling (on this Pi only).

The ceiling lives in the progress file (ceiling.progress_file). The running
service reads it at start, so a change here applies from its next start
(`sudo systemctl restart treadguard`). Nothing on a network can change it.
"""

from __future__ import annotations

import argparse

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.formats.progress_file import Progress, save_progress, utc_now
from monitor.service.outputs.progress import load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="the config file (its [ceiling] section)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--set", type=float, metavar="M/S", help="set the ceiling to this speed in m/s "
                                                               "(e.g. 0.6 after a physiotherapist's advice)")
    what.add_argument("--reset", action="store_true", help="start again at the new walker's ceiling")


def _kmh(mps: float) -> str:
    return f"{mps:.2f} m/s ({mps * 3.6:.1f} km/h)"


def progress_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else Config()
    except ConfigError as err:
        return report_config_error(err, "the progress was not read")
    c = config.ceiling
    path = c.progress_file
    loaded = load(config)
    if loaded.message is not None:
        print(f"treadguard: {loaded.message}")
    progress = loaded.progress
    if args.set is not None or args.reset:
        if args.reset:
            value, event = c.start_mps, "reset"
        else:
            value, event = args.set, "set"
            if not c.min_mps <= value <= config.belt.max_backward_mps:
                return fail(f"--set {value:g}: the ceiling must be from ceiling.min_mps {c.min_mps:g} to "
                            f"belt.max_backward_mps {config.belt.max_backward_mps:g} m/s", EXIT_USAGE)
        stamp = utc_now()
        new = Progress(value, stamp, progress.last_session,
                       progress.history + [{"at": stamp, "event": event, "ceiling_mps": round(value, 3)}])
        try:
            save_progress(path, new)
        except OSError as err:
            return fail(f"{path}: could not be written ({err.strerror or err}); the ceiling is unchanged. "
                        f"Run as the treadguard user or with sudo, or check ceiling.progress_file", EXIT_FAILED)
        print(f"backward ceiling {event} to {_kmh(value)} in {path}; the service uses it from its next start "
              f"(sudo systemctl restart treadguard)")
        return EXIT_OK
    if not c.enabled:
        print("the backward ceiling is off (ceiling.enabled = false): only belt.max_backward_mps "
              f"{_kmh(config.belt.max_backward_mps)} applies walking backwards")
    state = ("a new walker: no progress file yet" if loaded.is_new
             else "the file could not be used" if loaded.message else f"kept in {path}")
    print(f"backward ceiling: {_kmh(progress.ceiling_mps)} ({state})")
    print(f"It rises by {c.step_mps:g} m/s after {c.rise_after_s / 60:g} steady minutes walking\n"
          f"backwards within {c.near_mps:g} m/s of it. A stumble lowers it a step;\n"
          f"so does a break of {c.break_days:g} days or more.")
    if progress.last_session:
        print(f"last backward walking: {progress.last_session}")
    if progress.history:
        print("recent changes:")
        for h in progress.history[-10:]:
            print(f"  {h.get('at', '?')}  {str(h.get('event', '?')):8} {h.get('ceiling_mps', '?')} m/s")
    return EXIT_OK
