"""What every command shares: exit codes, the one-line failure message, config errors, package
files, and where the bench keeps its trip records."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.config.load import ConfigError
    from monitor.config.schema import Config

from monitor.service.sessions.exit_status import (  # noqa: F401 (shared by every command)
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    MAX_COLUMNS,
    fail,
    said,
    width,
    wrapped,
)


def report_config_error(err: "ConfigError", consequence: str, code: int = EXIT_USAGE) -> int:
    """Every problem in a config on its own line(s), fitted to the terminal, then what was not done;
    the exit status."""
    for problem in err.problems:
        print(said(f"treadguard: {err.source}: {problem}", sys.stderr), file=sys.stderr)
    print(said(f"treadguard: {len(err.problems)} problem(s) in {err.source}; {consequence}", sys.stderr),
          file=sys.stderr)
    return code


def package_file(relative: str) -> Path:
    """A file shipped inside the monitor package, e.g. "demo/walk-then-stumble.csv.gz"."""
    return Path(__file__).resolve().parent.parent / relative


def bench_trip_dir() -> str:
    """Where the bench keeps its trip records when no config names a folder: the
    person's own state folder (XDG), not the daemon's."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "treadguard", "bench-trips")


def draw_plot(path: str, trace: Any, config: "Config", walking: str, **plot_args: Any) -> int:
    """Draw a trace's plot (monitor.service.trips.trip_plot) with the belt's speed limit for the walking
    direction; say where it went, or why it could not be drawn; the exit status."""
    from monitor.service.trips.trip_plot import PlotError, plot_trace

    belt = config.belt
    try:
        plot_trace(trace, config, path,
                   max_speed_mps=belt.max_forward_mps if walking == "forward" else belt.max_backward_mps,
                   **plot_args)
    except PlotError as err:
        return fail(str(err), EXIT_USAGE)
    except OSError as err:
        return fail(f"{path}: could not write the plot ({err.strerror or err})", EXIT_FAILED)
    print(f"plot: {path}")
    return EXIT_OK
