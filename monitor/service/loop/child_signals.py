"""Starting the daemon's child processes so that a stop meant for the service ends the daemon first.

A Ctrl-C reaches every process of the terminal's group, and `systemctl stop` sends
SIGTERM to every process of the service. The relay keeper and the trip-record
worker must not end before the daemon: the keeper would let go of the relay line
(and the daemon would trip on a lost keeper), the worker would cut a record short
and print a traceback. Each ends by itself when the daemon closes its socket or
pipe, or is ended by the daemon (SIGKILL), so they are started with SIGINT and
SIGTERM blocked: a child inherits its parent thread's signal mask across fork and
exec, and Python leaves it as it is. The daemon's own copies of those signals are
held only while the child is being started and delivered right after, never lost.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Start a child process inside this block: it never receives SIGINT or SIGTERM."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
