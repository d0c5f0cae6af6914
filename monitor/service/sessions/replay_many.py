"""Many traces replayed at once: each in a worker process, results in the order given, one bad trace never stopping the rest."""

from __future__ import annotations

import multiprocessing
import signal
from typing import Iterator

from monitor.config.schema import Config
from monitor.formats.trace_format import TraceError
from monitor.service.sessions.replay import ReplayResult, replay_file


def replay_path(job: tuple[str, Config]) -> tuple[ReplayResult | None, str | None]:
    """(result, None) or (None, one-line error). Runs in a worker process."""
    path, config = job
    try:
        return replay_file(path, config), None
    except TraceError as err:
        return None, str(err)
    except Exception as err:  # one bad trace must not stop the others
        return None, f"{path}: could not be replayed: {type(err).__name__}: {err}"


def ignore_interrupts() -> None:
    """A worker's initializer: Ctrl-C reaches the whole process group, but only the parent acts on
    it (it stops the pool); a worker that took it would print a traceback and leave the pool waiting."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def replay_many(paths: list[str], config: Config, jobs: int) -> Iterator[tuple[ReplayResult | None, str | None]]:
    """(result, error) per path, in the order given, on up to `jobs` worker processes."""
    work = [(p, config) for p in paths]
    if not work:
        return
    if jobs <= 1 or len(paths) == 1:
        yield from map(replay_path, work)
        return
    with multiprocessing.Pool(min(jobs, len(paths)), initializer=ignore_interrupts) as pool:
        yield from pool.imap(replay_path, work, chunksize=1)
