"""A worker handler for the worker-process tests: small to import, since the child imports it by name."""

from __future__ import annotations

import os


def file_writer(folder: str, done_fifo: str | None = None):
    """Write each item as a file named after it; then, if given, name it on the done FIFO."""
    done = None

    def write(name: str) -> None:
        nonlocal done
        with open(os.path.join(folder, name), "w") as f:
            f.write(name)
        if done_fifo is not None:
            if done is None:
                done = open(done_fifo, "w", buffering=1)  # waits for the test, which is reading it
            done.write(name + "\n")
    return write
