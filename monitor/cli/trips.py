"""`treadguard trips [show ID [--plot FILE]]`: the recorded trips, listed and explained.

The list is one line per trip, newest first, within 80 columns. `show` gives
one trip's every problem as a sentence, each value beside its threshold, and
with --plot draws the recorded seconds around it.
"""

from __future__ import annotations

import argparse
import math
import os
import textwrap

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, bench_trip_dir, draw_plot, fail, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.service.trips.trip_explain import explain, merged_thresholds, thresholds_from_config
from monitor.service.trips.trip_history import TripEntry, find_trip, list_trips

WIDTH = 80


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def common(p: argparse.ArgumentParser, default: object) -> None:
        p.add_argument("--dir", metavar="DIR", default=default, help="the folder of trip records (default: "
                       "record.trip_dir of --config, else /var/lib/treadguard/trips)")
        p.add_argument("--config", metavar="FILE", default=default, help="the config the monitor ran with: "
                       "its trip folder and its thresholds (default: built-in defaults)")
    common(parser, None)
    sub = parser.add_subparsers(dest="trips_command", metavar="show")
    show = sub.add_parser("show", help="explain one trip: every value that fired beside its threshold")
    show.add_argument("trip_id", metavar="ID", help="the trip's ID as `treadguard trips` lists it "
                                                    "(or its start, or `latest`)")
    show.add_argument("--plot", metavar="FILE", help="draw the trip's seconds into FILE.png or FILE.svg")
    common(show, argparse.SUPPRESS)  # given before or after `show`, either way


def trips_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else Config()
    except ConfigError as err:
        return report_config_error(err, "no trip was read")
    folder = args.dir or config.record.trip_dir
    if not os.path.isdir(folder):
        bench = bench_trip_dir()
        hint = f" (the bench's trips are in {bench})" if not args.dir and os.path.isdir(bench) else ""
        return fail(f"{folder}: no such folder of trip records (`treadguard run` writes them there); "
                    f"name another with --dir DIR{hint}", EXIT_FAILED)
    try:
        entries = list_trips(folder)
    except OSError as err:
        return fail(f"{folder}: cannot read the trip records ({err.strerror or err}); "
                    f"check that you may read it (sudo?)", EXIT_FAILED)
    if getattr(args, "trips_command", None) == "show":
        return show_trip(entries, args.trip_id, config, folder, args.plot,
                         thresholds_from=args.config or "the built-in default settings")
    if not entries:
        print(f"no trips recorded in {folder}")
        return EXIT_OK
    print(listing(entries))
    print(_wrap(f"{len(entries)} trip(s) in {folder}, newest first", ""))
    print("explain one: treadguard trips show ID")
    return EXIT_OK


def listing(entries: list[TripEntry]) -> str:
    lines = [f"{'ID':19}  {'time (UTC)':19}  {'reason':12}  detail"]
    for e in entries:
        when = e.when.replace(" UTC", "")[:19]
        lines.append(f"{e.trip_id:19}  {when:19}  {e.reason:12}  {e.detail}"[:WIDTH])
    return "\n".join(lines)


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent),
                         break_on_hyphens=False)


def show_trip(entries: list[TripEntry], wanted: str, config: Config, folder: str, plot_path: str | None,
              *, thresholds_from: str) -> int:
    found = find_trip(entries, wanted)
    if isinstance(found, list):
        if not found:
            return fail(f"no trip {wanted!r} in {folder}; `treadguard trips --dir {folder}` lists them",
                        EXIT_USAGE)
        return fail(f"{wanted!r} could be any of {', '.join(e.trip_id for e in found[:5])}"
                    f"{', ...' if len(found) > 5 else ''}; give more of the ID", EXIT_USAGE)
    entry = found
    if plot_path is not None:
        from monitor.service.trips.trip_plot import PlotError, check_plot_path
        try:
            check_plot_path(plot_path)
        except PlotError as err:
            return fail(str(err), EXIT_USAGE)
    walking = str(entry.explanation.get("direction") or entry.explanation.get("walking") or config.session.walking)
    base = thresholds_from_config(config, walking)
    print(f"trip {entry.trip_id} at {entry.when}, walking {walking}")
    if entry.problem:
        print(_wrap(f"its explanation cannot be shown: {entry.problem}", "  "))
    else:
        print(f"reason: {entry.reason} ({entry.detail})")
        problems = entry.problems
        print("why the belt was stopped:" if problems else "no problem recorded")
        any_recorded = False
        for p in problems:
            recorded = p.get("thresholds")
            any_recorded |= isinstance(recorded, dict) and bool(recorded)
            values = p.get("values") if isinstance(p.get("values"), dict) else {}
            values = {k: v for k, v in values.items() if isinstance(v, (int, float)) or v is None}
            sentence = explain(str(p.get("detail") or "?"), values, merged_thresholds(base, recorded))
            print(_wrap(sentence, "  - "))
        source = "the trip record" if any_recorded else thresholds_from
        print(_wrap(f"thresholds from {source}.", ""))
    status = EXIT_OK
    if entry.data_path is None:
        print("data: none recorded")
        if plot_path is not None:
            return fail(f"trip {entry.trip_id} has no data file to plot", EXIT_FAILED)
    else:
        status = _data_and_plot(entry, config, plot_path, walking)
    return status


def _data_and_plot(entry: TripEntry, config: Config, plot_path: str | None, walking: str) -> int:
    from monitor.formats.trace_format import TraceError
    from monitor.formats.trace_reader import read_trace

    try:
        trace = read_trace(entry.data_path)
    except TraceError as err:
        print(f"data: {entry.data_path}: unreadable")
        return fail(str(err), EXIT_FAILED)
    trip_t = entry.explanation.get("t_s")
    has_t = isinstance(trip_t, (int, float)) and math.isfinite(trip_t) and trace.samples > 0
    around = ""
    if has_t:
        around = (f", {float(trace.t_s[0]) - trip_t:+.1f} s to {float(trace.t_s[-1]) - trip_t:+.1f} s "
                  f"around the trip")
    columns = [c for c, v in (("belt", trace.belt_mps), ("range", trace.range_m)) if v is not None]
    print(_wrap(f"data: {entry.data_path} ({trace.samples} samples{around}; IMU"
                f"{''.join(', ' + c for c in columns)})", ""))
    if plot_path is None:
        return EXIT_OK
    from monitor.service.trips.trip_plot import TripMark

    mark = None
    if has_t:
        motion = next((p for p in entry.problems if isinstance(p.get("values"), dict)
                       and "tilt_rad" in p["values"]), None)
        when = motion.get("t_s") if motion is not None else None
        mark = TripMark(float(trip_t), f"{entry.reason} ({entry.detail})",
                        values=motion["values"] if motion is not None else None,
                        values_t_s=float(when) if isinstance(when, (int, float)) else None)
    return draw_plot(plot_path, trace, config, walking, trip=mark,
                     title=f"treadguard trip {entry.trip_id}, walking {walking}",
                     rear_edge_m=trace.rear_edge_m or config.range.rear_edge_m,
                     note="the curves are the detector recomputed from these seconds alone: it starts afresh at "
                          "their start, so its levels of the walker (and the jolt score) can differ from the "
                          "daemon's; X marks the daemon's own value")
