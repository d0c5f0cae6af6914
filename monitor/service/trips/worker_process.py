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
cross the pipe. If the child dies, the failure is said once on stderr and the
items are dropped and counted: a side output can never take the monitor down.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
from typing import Any

from monitor.service.outputs.sideline import Sideline

_CONTEXT = multiprocessing.get_context("spawn")  # a fresh interpreter: no copy of the loop's threads or locks


def _child_main(target: str, args: tuple, connection: Any) -> None:
    module_name, function_name = target.split(":")
    handle = getattr(importlib.import_module(module_name), function_name)(*args)
    while True:
        try:
            item = connection.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        try:
            handle(item)
        except Exception as err:  # one bad item must not end the worker
            print(f"treadguard: side output failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)


class ProcessSideline:
    """A Sideline whose handler runs in a child process. `offer` never waits."""

    def __init__(self, target: str, args: tuple = (), *, maxsize: int = 64, name: str = "worker") -> None:
        self.target = target
        parent, child = _CONTEXT.Pipe(duplex=False)
        self._connection = child  # the sending end
        self._process = _CONTEXT.Process(target=_child_main, args=(target, args, parent), name=name, daemon=True)
        self._process.start()
        parent.close()
        self._is_broken = False
        self._queue = Sideline(self._send, maxsize=maxsize, name=f"{name}-sender")

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    @property
    def failures(self) -> int:
        return self._queue.failures

    def offer(self, item: Any) -> bool:
        return self._queue.offer(item)

    def _send(self, item: Any) -> None:
        if self._is_broken:
            raise OSError("the worker process is gone")
        try:
            self._connection.send(item)
        except (OSError, ValueError) as err:
            self._is_broken = True
            raise OSError(f"the {self.target} worker process ended ({err}); its outputs are lost "
                          f"until treadguard restarts") from None

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish what is queued (bounded waits), then let the child finish and end."""
        self._queue.close(timeout_s)
        try:
            self._connection.send(None)
        except (OSError, ValueError):
            pass
        self._connection.close()
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(1.0)
