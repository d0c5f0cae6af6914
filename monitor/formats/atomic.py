"""Writing a file so that it is never half-written: the whole new content or the old.

The content goes to a temporary file in the same folder, is flushed to disk,
and is renamed over the target; then the folder itself is synced so the rename
survives a power cut. A target that exists keeps its mode and owner (a symlink
is followed, so the file it points to is replaced); a new file gets the mode the
umask allows. On any failure the temporary file is removed and the target is
unchanged.
"""

from __future__ import annotations

import os
import secrets
import stat


def replace_file(path: str | os.PathLike[str], payload: bytes) -> None:
    """Put payload at path atomically. Raises OSError; the target is then unchanged."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target) or "."
    try:
        before: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        before = None
    tmp = os.path.join(folder, f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if before is not None:
            os.chmod(tmp, stat.S_IMODE(before.st_mode))
            try:
                os.chown(tmp, before.st_uid, before.st_gid)
            except OSError:
                pass  # not ours to give away; the content is what matters
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable; best effort (not every system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
