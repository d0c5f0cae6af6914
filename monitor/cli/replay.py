"""`treadguard replay PATH... [--json]`: the replay contract of TRACE_FORMAT.md.

Traces run in parallel worker processes but print in the order given, each
read as a stream (memory does not grow with its length). A trace that cannot
be read prints one line on stderr naming the file and line; the others still
run, and the exit status is then non-zero.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from typing import Iterator

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, report_config_error
from monitor.config.load import ConfigError, load_config
from monitor.config.schema import Config
from monitor.formats.trace_format import TraceError
from monitor.service.replay import ReplayResult, replay_file


def replay_path(job: tuple[str, Config]) -> tuple[ReplayResult | None, str | None]:
    """(result, None) or (None, one-line error). Runs in a worker process."""
    path, config = job
    try:
        return replay_file(path, config), None
    except TraceError as err:
        return None, str(err)
    except Exception as err:  # one bad trace must not stop the others
        return None, f"{path}: could not be replayed: {type(err).__name__}: {err}"


def _results(paths: list[str], config: Config, jobs: int) -> Iterator[tuple[ReplayResult | None, str | None]]:
    work = [(p, config) for p in paths]
    if jobs <= 1 or len(paths) == 1:
        yield from map(replay_path, work)
        return
    with multiprocessing.Pool(min(jobs, len(paths))) as pool:
        yield from pool.imap(replay_path, work, chunksize=1)


def human_line(result: ReplayResult) -> str:
    if not result.tripped:
        return f"{result.trace}: no trip ({result.samples} samples, {result.duration_s:.2f} s)"
    shown = ", ".join(f"{k}={v:.3g}" for k, v in (result.values or {}).items())
    return f"{result.trace}: TRIP at {result.trip_t:.3f} s: {result.reason} ({result.detail}) {shown}"


def replay_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else Config()
    except ConfigError as err:
        return report_config_error(err, "nothing was replayed")
    if args.jobs < 1:
        return fail("--jobs must be at least 1", EXIT_USAGE)
    failed = 0
    for result, error in _results(args.paths, config, args.jobs):
        if error is not None:
            failed += 1
            print(f"treadguard: {error}", file=sys.stderr, flush=True)
            continue
        print(result.to_json() if args.json else human_line(result), flush=True)
    return EXIT_FAILED if failed else EXIT_OK
