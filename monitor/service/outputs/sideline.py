"""Side outputs beside the loop: a bounded queue and a worker thread.

Status lines, trip records and notifications go through here. The loop only
ever offers an item; when the queue is full the item is dropped and counted,
so a slow terminal or a full disk can never delay a safety decision.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any, Callable


class Sideline:
    def __init__(self, handle: Callable[[Any], None], *, maxsize: int = 64, name: str = "sideline",
                 threaded: bool = True) -> None:
        self._handle = handle
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self.failures = 0
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._thread.start()

    def offer(self, item: Any) -> bool:
        """Queue an item without ever waiting; False (and counted) when dropped."""
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def drain(self) -> None:
        """Handle everything queued, in the caller's thread (for tests and unthreaded use)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            self._safe_handle(item)

    def _safe_handle(self, item: Any) -> None:
        try:
            self._handle(item)
        except Exception as err:  # a side output must never take the monitor down
            self.failures += 1
            print(f"treadguard: side output failed: {err}", file=sys.stderr)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._safe_handle(item)

    @property
    def is_busy(self) -> bool:
        """True while the worker thread is still running (after close(): stuck in a handler)."""
        return self._thread is not None and self._thread.is_alive()

    def take_all(self) -> list[Any]:
        """Take every item still queued, unhandled (for saying what was lost)."""
        items = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if item is not None:
                items.append(item)

    def close(self, timeout_s: float = 2.0) -> None:
        """Finish what is queued (bounded wait) and stop the worker."""
        if self._thread is None:
            self.drain()
            return
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)
