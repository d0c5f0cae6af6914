"""`treadguard replay PATH... [--json] [--plot FILE]`: the replay contract of TRACE_FORMAT.md.

A PATH may be a folder: its traces (*.csv, *.csv.gz) replay in name order. The
human output says why each trip happened in plain words, wrapped to the
terminal, and ends with a summary across traces; --json prints exactly the
contract's lines (with every value the detector saw) and nothing else. --plot
draws the one trace replayed.

Traces run in parallel worker processes but print in the order given, each
read as a stream (memory does not grow with its length). A trace that cannot
be read prints one line on stderr naming the file and line; the others still
run, and the exit status is then non-zero.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from collections import Counter

from monitor.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, draw_plot, fail, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.formats.trace_reader import read_trace
from monitor.service.sessions.replay import ReplayResult
from monitor.service.sessions.replay_many import replay_many
from monitor.service.trips.trip_explain import explain, thresholds_from_config


def human_line(result: ReplayResult, thresholds: dict[str, float] | None = None, width: int = 80) -> str:
    """One trace's result for a person: whether and when it tripped and, for a trip, why in plain
    words (trip_explain, as `treadguard trips show`) wrapped to the terminal; --json keeps every value."""
    if not result.tripped:
        return f"{result.trace}: no trip ({result.samples} samples, {result.duration_s:.2f} s)"
    head = f"{result.trace}: TRIP at {result.trip_t:.3f} s: {result.reason} ({result.detail})"
    if thresholds is None:
        thresholds = thresholds_from_config(Config())
    why = explain(str(result.detail), result.values or {}, thresholds)
    return head + "\n" + textwrap.fill(why, width=max(40, width), initial_indent="    ", subsequent_indent="    ")


def expand_paths(paths: list[str]) -> tuple[list[str], list[str]]:
    """Each folder becomes its traces (*.csv and *.csv.gz, sorted by name); files stay as
    given, in order. Returns (paths, one-line errors for folders without a trace)."""
    out, errors = [], []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        found = sorted(os.path.join(path, n) for n in os.listdir(path)
                       if n.endswith((".csv", ".csv.gz")) and os.path.isfile(os.path.join(path, n)))
        if not found:
            errors.append(f"{path}: a folder with no traces in it (.csv or .csv.gz)")
        out.extend(found)
    return out, errors


def summary(results: list[ReplayResult], failed: int) -> str:
    """One paragraph across every trace: how many, how many tripped by reason, how many failed."""
    tripped = Counter(r.reason for r in results if r.tripped)
    parts = [f"{len(results) + failed} trace(s): {sum(tripped.values())} tripped"]
    if tripped:
        parts[0] += " (" + ", ".join(f"{reason} {n}" for reason, n in sorted(tripped.items(), key=lambda x: (-x[1], x[0]))) + ")"
    parts.append(f"{len(results) - sum(tripped.values())} did not")
    if failed:
        parts.append(f"{failed} could not be read (see above)")
    return ", ".join(parts)


def replay_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else Config()
    except ConfigError as err:
        return report_config_error(err, "nothing was replayed")
    if args.jobs < 1:
        return fail("--jobs must be at least 1", EXIT_USAGE)
    paths, errors = expand_paths(args.paths)
    plot = getattr(args, "plot", None)
    if plot is not None:
        if len(paths) != 1:
            return fail(f"--plot draws one trace; {len(paths)} were given", EXIT_USAGE)
        from monitor.service.trips.trip_plot import PlotError, check_plot_path
        try:
            check_plot_path(plot)
        except PlotError as err:
            return fail(str(err), EXIT_USAGE)
    failed = len(errors)
    for error in errors:
        print(f"treadguard: {error}", file=sys.stderr, flush=True)
    done: list[ReplayResult] = []
    thresholds = thresholds_from_config(config, config.session.walking)
    width = shutil.get_terminal_size().columns
    try:
        for result, error in replay_many(paths, config, args.jobs):
            if error is not None:
                failed += 1
                print(f"treadguard: {error}", file=sys.stderr, flush=True)
                continue
            done.append(result)
            print(result.to_json() if args.json else human_line(result, thresholds, width), flush=True)
    except KeyboardInterrupt:  # the workers ignore it; the pool is stopped on the way out
        print(f"treadguard: stopped (Ctrl-C) after {len(done) + failed - len(errors)} of {len(paths)} "
              f"trace(s)", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    if not args.json:
        print(summary(done, failed))
    if plot is not None and done:
        code = plot_replay(done[0], config, plot)
        if code != EXIT_OK:
            return code
    return EXIT_FAILED if failed else EXIT_OK


LONG_TRACE_S = 30.0  # a longer trace that tripped is drawn around the trip, not whole
PLOT_BEFORE_S, PLOT_AFTER_S = 8.0, 3.0


def plot_replay(result: ReplayResult, config: Config, path: str) -> int:
    """Draw the trace replayed, with the trip moment the replay found."""
    from monitor.service.trips.trip_plot import TripMark

    trace = read_trace(result.trace)
    mark = TripMark(result.trip_t, f"{result.reason} ({result.detail})", values=result.values) \
        if result.tripped else None
    window = None
    if mark is not None and trace.duration_s > LONG_TRACE_S:
        window = (mark.t_s - PLOT_BEFORE_S, mark.t_s + PLOT_AFTER_S)
    walking = trace.walking or config.session.walking
    return draw_plot(path, trace, config, walking, trip=mark, window_s=window,
                     title=f"treadguard replay of {os.path.basename(result.trace)}, walking {walking}",
                     rear_edge_m=trace.rear_edge_m,
                     note="the detector's features over the whole trace, as the replay computed them; "
                          "X marks its values when it fired")
