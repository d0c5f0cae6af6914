"""Exit statuses and how a message reaches a person: one line in a log, fitted to a terminal.

Shared by every session and command. The service's messages go to the journal, which
keeps each on one line; the same message in a terminal is wrapped at its width (80 at most).
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # something the person asked for failed (a trace, a device)
EXIT_USAGE = 2  # the request itself was wrong (arguments, config)
EXIT_INTERNAL = 3  # a bug in treadguard
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT, as the shell says it)


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(said(f"treadguard: {message}", sys.stderr), file=sys.stderr)
    return code


MAX_COLUMNS = 80


def width() -> int:
    """The terminal's width, at most MAX_COLUMNS (COLUMNS when set, 80 when not a terminal)."""
    return max(40, min(MAX_COLUMNS, shutil.get_terminal_size((MAX_COLUMNS, 24)).columns))


def wrapped(text: str, indent: str = "", more: str = "  ") -> str:
    """Prose fitted to width(): words never split (a long path stays whole on its own line)."""
    return textwrap.fill(text, width(), initial_indent=indent, subsequent_indent=indent + more,
                         break_long_words=False, break_on_hyphens=False)


def said(text: str, stream: Any, indent: str = "", more: str = "  ") -> str:
    """A message for a person: fitted to the terminal when `stream` is one (or COLUMNS says how
    wide), one whole line otherwise, so that a log or the journal keeps each message on one line."""
    is_terminal = hasattr(stream, "isatty") and stream.isatty()
    return wrapped(text, indent, more) if is_terminal or "COLUMNS" in os.environ else indent + text

