"""Files written whole or not at all, with the permissions ``open`` gives."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8) through a temporary file in the
    same folder, renamed over ``path`` once complete: a reader sees the old
    file or the new one, never part of one, and an error leaves no
    temporary file. The new file keeps the permissions of the one it
    replaces, or gets those ``open`` would give. A symbolic link at
    ``path`` is written through, as ``open(path, "w")`` writes: the link
    stays, and the file it points to (in its own folder) is replaced.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_text_atomic(path, "one\\n").read_text()
    'one\\n'
    """
    given = Path(path)
    path = Path(os.path.realpath(given)) if given.is_symlink() else given
    mode = file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return given


def file_mode(path: Path) -> int:
    """The permission bits ``path`` should get: those of the file it
    replaces, or ``0o666`` less the umask for a new file (what ``open``
    gives; ``mkstemp`` makes its file ``0o600`` whatever the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        pass
    return 0o666 & ~umask()


def umask() -> int:
    """The process's umask: from ``/proc`` where Linux shows it (no change
    to the process), else by setting it and setting it back."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
