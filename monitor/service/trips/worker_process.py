"""Side outputs in a separate process, so their work never holds the loop's GIL.

Writing a trip record (formatting thousands of numbers, gzip, fsync) is
milliseconds of Python; in a thread of the loop's process it holds the GIL that
the loop needs, and the loop's ticks come late. Here the loop offers items to a
bounded in-process queue exactly as with a `Sideline` (never waiting, dropping
and counting when full); a small sender thread passes each one through a pipe to
a child process, which does the work. The sender only pickles (a fraction of a
millisecond for a trip record); everything slow happens in the child, on its
own interpreter.

The child runs `handler(*args)` imported by name ("module:function", which
returns the callable that takes each item), so nothing but names and plain data
cross the pipe. A side output can never take the monitor down, and nothing it
loses goes unsaid: the child answers each item it has handled, and every item
that never will be (dropped because the queue was full, refused by a child that
is gone, or still unanswered when the worker is ended) is handed to `on_lost`
with the reason, once.

A worker that is stopped (SIGSTOP) or stuck, not dead, must not hold up the
daemon's exit either. Its pipe fills, so nothing here writes to it without a
bound: the end-of-items message is sent only without blocking, `close()` waits
one bounded budget, then ends the child with SIGTERM and, if it is still there,
SIGKILL. An exit that skips `close()` is covered too: multiprocessing's own exit
handler joins its children without a timeout, and an atexit handler registered
after it (so run before it) kills every worker never closed first.
"""

from __future__ import annotations

import atexit
import importlib
import itertools
import multiprocessing
import os
import sys
import threading
import time
import weakref
from multiprocessing import resource_tracker
from typing import Any, Callable

from monitor.service.loop.child_signals import stop_signals_blocked
from monitor.service.outputs.sideline import Sideline

_CONTEXT = multiprocessing.get_context("spawn")  # a fresh interpreter: no copy of the loop's threads or locks
_LIVE: "weakref.WeakSet[ProcessSideline]" = weakref.WeakSet()
_GONE = object()


def _child_main(target: str, args: tuple, connection: Any) -> None:
    module_name, function_name = target.split(":")
    handle = getattr(importlib.import_module(module_name), function_name)(*args)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        seq, item = message
        try:
            handle(item)
        except Exception as err:  # one bad item must not end the worker
            print(f"treadguard: side output failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        try:
            connection.send(seq)  # handled (or said why not): no longer the parent's to account for
        except (OSError, ValueError):
            return


class ProcessSideline:
    """A Sideline whose handler runs in a child process. `offer` never waits."""

    def __init__(self, target: str, args: tuple = (), *, maxsize: int = 64, name: str = "worker",
                 on_lost: Callable[[Any, str], None] | None = None) -> None:
        self.target = target
        self.on_lost = on_lost
        self.lost = 0
        ours, theirs = _CONTEXT.Pipe(duplex=True)
        self._connection = ours
        self._process = _CONTEXT.Process(target=_child_main, args=(target, args, theirs), name=name, daemon=True)
        # multiprocessing's resource tracker, started on the first start(), unblocks the stop signals
        # after starting itself: start it first, so the worker is started with them blocked.
        resource_tracker.ensure_running()
        with stop_signals_blocked():  # a stop for the service ends the daemon, which ends its worker
            self._process.start()
        theirs.close()
        self._is_broken = False
        self._is_ending = False  # close() is ending the child: what the sender loses from now on is said so
        self._lock = threading.Lock()
        self._receiving = threading.Lock()  # the sender thread and close() both read answers
        self._numbers = itertools.count(1)
        self._in_flight: dict[int, Any] = {}  # sent, not yet answered by the child
        self._queue = Sideline(self._send, maxsize=maxsize, name=f"{name}-sender")
        _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    @property
    def failures(self) -> int:
        return self._queue.failures

    def offer(self, item: Any) -> bool:
        if self._queue.offer(item):
            return True
        self._say_lost(item, "the worker's queue was full: it is behind, stopped or stuck")
        return False

    def _send(self, item: Any) -> None:
        if self._is_broken:
            self._say_lost(item, self._gone_why())
            return
        seq = next(self._numbers)
        with self._lock:
            self._in_flight[seq] = item
        self._take_answers()
        try:
            self._connection.send((seq, item))  # may block while a stopped worker's pipe is full
        except Exception as err:  # closed, broken, or closed by close() while this send waited
            self._is_broken = True
            with self._lock:
                is_ours = self._in_flight.pop(seq, _GONE) is not _GONE  # close() may have said it already
            if is_ours:
                self._say_lost(item, self._gone_why(err))

    @property
    def unanswered(self) -> int:
        """Items sent to the child that it has not yet answered for."""
        self._take_answers()
        with self._lock:
            return len(self._in_flight)

    def _gone_why(self, err: BaseException | None = None) -> str:
        if self._is_ending:
            return "the worker was stopped or stuck when treadguard stopped, and was ended"
        return "the worker process is gone" + (f" ({err})" if err is not None else "")

    def _take_answers(self) -> None:
        """Forget every item the child has answered for."""
        with self._receiving:
            try:
                while self._connection.poll(0):
                    seq = self._connection.recv()
                    with self._lock:
                        self._in_flight.pop(seq, None)
            except Exception:  # EOF, a broken pipe, or close() closing it meanwhile: nothing more to read
                pass

    def _say_lost(self, item: Any, why: str) -> None:
        self.lost += 1
        if self.on_lost is None:
            return
        try:
            self.on_lost(item, why)
        except Exception:  # saying it is best effort; it never takes the caller down
            pass

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish what is queued (bounded waits), let the child finish and end; a worker that
        does not, within timeout_s, is ended (SIGTERM, then SIGKILL), and whatever it had not
        answered for is said lost."""
        _LIVE.discard(self)
        end_s = time.monotonic() + timeout_s  # one budget for the queue and the child together
        self._queue.close(timeout_s / 2)  # at most timeout_s in all, even if the sender is stuck in a send
        if not self._queue.is_busy and not self._is_broken:
            try:  # the end, without waiting: a stopped child's full pipe refuses it, and is ended below
                os.set_blocking(self._connection.fileno(), False)
                self._connection.send(None)
            except (OSError, ValueError):
                pass
        self._process.join(max(0.0, end_s - time.monotonic()))
        self._take_answers()
        self._is_ending = True
        self._end_process()
        self._take_answers()
        self._connection.close()
        for item in self._queue.take_all():
            self._say_lost(item, "the worker never got it: it was stopped or stuck when treadguard stopped")
        with self._lock:
            unanswered = list(self._in_flight.values())
            self._in_flight.clear()
        for item in unanswered:
            self._say_lost(item, "the worker never confirmed writing it (it was stopped or stuck when treadguard "
                                 "stopped), so it may be missing or cut short")

    def _end_process(self) -> None:
        """SIGTERM, then SIGKILL (a stopped process acts on nothing else), each with a bounded wait."""
        if not self._process.is_alive():
            return
        self._process.terminate()
        self._process.join(1.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2.0)


@atexit.register
def _end_workers_at_exit() -> None:
    """Registered after multiprocessing's own exit handler, so it runs before it: a worker that was
    never closed (and may be stopped) is killed here, and multiprocessing's join finds it ended."""
    for worker in list(_LIVE):
        try:
            worker._end_process()
        except Exception:
            pass
