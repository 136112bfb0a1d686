"""Files without a name: where unsealed or decrypted encodings live while a run needs them.

A sealed encode needs the plain ``.hme`` until it is sealed; a sealed link needs each
decrypted input while it links. Neither may appear under a name in ``$TMPDIR``, where a
killed run would leave it behind (and other tools could pick it up). So:

* Linux: :func:`os.memfd_create`, a file in memory (swappable like any memory) that no file
  system lists and that vanishes with the last descriptor, also on SIGKILL;
* otherwise :func:`tempfile.TemporaryFile`: ``O_TMPFILE`` where the system has it (never
  named), else a file unlinked as soon as it is created.

:func:`reopen_path` gives a path (``/proc/self/fd/N``) by which code that opens files by
name (:meth:`hashmatch.encfile.EncodingFile.open`) reads the same content.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

__all__ = ["anonymous_file", "reopen_path"]


def anonymous_file(label: str = "hashmatch") -> IO[bytes]:
    """A new empty read/write binary file with no name on any file system.

    Example
    -------
    >>> with anonymous_file() as fh:
    ...     _ = fh.write(b"abc")
    ...     _ = fh.seek(0)
    ...     fh.read()
    b'abc'
    """
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        try:
            fd = memfd_create(label[:200], os.MFD_CLOEXEC)  # the kernel limits the label
        except OSError:  # pragma: no cover - kernels without memfd
            pass
        else:
            return os.fdopen(fd, "w+b")
    return tempfile.TemporaryFile()  # pragma: no cover - not Linux


def reopen_path(fh: IO[bytes]) -> Path:
    """A path that opens the content of ``fh`` afresh (own offset), while ``fh`` is open.

    Raises
    ------
    OSError
        The system offers no such path (no ``/proc/self/fd`` or ``/dev/fd``).
    """
    fd = fh.fileno()
    for folder in ("/proc/self/fd", "/dev/fd"):
        candidate = Path(folder) / str(fd)
        if candidate.exists():
            return candidate
    msg = "this system cannot reopen an anonymous file by path"  # pragma: no cover
    raise OSError(msg)  # pragma: no cover
