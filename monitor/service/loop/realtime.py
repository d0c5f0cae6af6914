"""Making the loop's process fit for a real-time loop: scheduling, locked memory, the GIL's switch interval.

`prepare_process` asks for what the process may have and says, in one line each,
what it got and what it did not (and why), so a hand-started `treadguard run`
is never silently worse than the service. It never fails the start: a loop at
normal priority is slower to wake, not unsafe, and the core still trips on a
late tick.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys
from dataclasses import dataclass
from typing import Any

SWITCH_INTERVAL_S = 0.0005  # another thread holds the GIL at most this long before the loop gets it back
FIFO_PRIORITY = 40  # as the service unit sets it: above ordinary work, below the kernel's own threads
MCL_CURRENT = 1
MCL_FUTURE = 2
MIN_LOCK_FUTURE_BYTES = 256 * 1024 * 1024  # lock future pages only when growth cannot hit the limit


@dataclass
class RealtimeReport:
    is_fifo: bool
    is_memory_locked: bool
    lines: list[str]


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _ask_fifo(os_module: Any, priority: int) -> tuple[bool, str]:
    try:
        if os_module.sched_getscheduler(0) & ~getattr(os_module, "SCHED_RESET_ON_FORK", 0) == os_module.SCHED_FIFO:
            return True, "scheduling: SCHED_FIFO (set by whoever started treadguard)"
        # Reset on fork: a worker process the daemon starts (trip records) runs at normal
        # priority and can never compete with the loop for a CPU.
        policy = os_module.SCHED_FIFO | getattr(os_module, "SCHED_RESET_ON_FORK", 0)
        os_module.sched_setscheduler(0, policy, os_module.sched_param(priority))
    except PermissionError:
        return False, ("scheduling: normal priority; no right to SCHED_FIFO (the systemd unit grants it; "
                       "by hand, run as root or give the user CAP_SYS_NICE / an rtprio limit)")
    except (AttributeError, OSError) as err:
        return False, f"scheduling: normal priority; SCHED_FIFO refused ({err})"
    return True, f"scheduling: SCHED_FIFO priority {priority}"


def _lock_memory(libc: Any, rlimit: tuple[int, int]) -> tuple[bool, str]:
    soft, _ = rlimit
    unlimited = soft == resource.RLIM_INFINITY
    flags = MCL_CURRENT | (MCL_FUTURE if unlimited or soft >= MIN_LOCK_FUTURE_BYTES else 0)
    if not unlimited and soft < 16 * 1024 * 1024:
        return False, (f"memory: not locked; the locked-memory limit is {soft // 1024} KiB "
                       "(raise it with LimitMEMLOCK= in the unit, or ulimit -l, to keep the loop from paging)")
    if libc.mlockall(flags) != 0:
        errno = ctypes.get_errno()
        return False, f"memory: not locked ({os.strerror(errno)}); the loop may page under memory pressure"
    which = "current and future pages" if flags & MCL_FUTURE else "current pages"
    return True, f"memory: locked ({which})"


def prepare_process(*, os_module: Any = os, libc: Any = None, rlimit: tuple[int, int] | None = None,
                    priority: int = FIFO_PRIORITY) -> RealtimeReport:
    """Ask for SCHED_FIFO and locked memory, shorten the switch interval; say what was granted."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    is_fifo, fifo_line = _ask_fifo(os_module, priority)
    try:
        lib = libc if libc is not None else _libc()
        limit = rlimit if rlimit is not None else resource.getrlimit(resource.RLIMIT_MEMLOCK)
        is_locked, lock_line = _lock_memory(lib, limit)
    except (OSError, AttributeError) as err:
        is_locked, lock_line = False, f"memory: not locked ({err})"
    lines = [fifo_line, lock_line, f"thread switch interval: {SWITCH_INTERVAL_S * 1000:g} ms"]
    return RealtimeReport(is_fifo, is_locked, lines)
