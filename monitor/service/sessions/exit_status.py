"""Exit statuses and the one-line failure message, shared by every session and command."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILED = 1  # something the person asked for failed (a trace, a device)
EXIT_USAGE = 2  # the request itself was wrong (arguments, config)
EXIT_INTERNAL = 3  # a bug in treadguard
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT, as the shell says it)


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"treadguard: {message}", file=sys.stderr)
    return code
