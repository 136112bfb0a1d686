"""Atomic file output: a file appears complete under its final name, or not at all.

Every artefact hashmatch writes (encoding files, secrets, lookups, results) goes through
here, so an interrupted run (error, Ctrl-C, full disk, power cut) never leaves a truncated
file that a later step could mistake for a good one. The content is written to a temporary
file *in the destination directory* (so the final rename never crosses file systems),
flushed and fsync'ed, then renamed over the destination with :func:`os.replace`, and the
directory is fsync'ed so the rename itself survives a crash. On any exception the
temporary file is removed and the destination is left as it was.

The temporary file is created with ``O_EXCL`` and the requested permission bits (default
``0o666``, reduced by the umask as for any new file), so a secret written with
``permissions=0o600`` is never readable by others, not even for a moment. Its name,
``.hashmatch-tmp-<host>-<pid>-<random>.<name>`` (:mod:`hashmatch._temp_names`), lets a later
run remove it if this one is killed. A destination that exists and is not a regular file
(a folder, ``/dev/full``, a FIFO) is refused: renaming over it would replace the node.

Which files a command may write at all (``--force``, never over its inputs) is decided
before, by :mod:`hashmatch.output_policy`; sets of files that belong together are
committed by :mod:`hashmatch.output_set`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from hashmatch._temp_names import new_temp_name
from hashmatch.errors import OutputError

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "os_error_hint",
    "output_error",
]

#: Open modes atomic_write accepts: the file is always new and write-only.
WriteMode = Literal["w", "wb"]


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: WriteMode = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
    permissions: int = 0o666,
    overwrite: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path:
        Final destination. Its directory must exist.
    mode:
        ``"wb"`` (binary) or ``"w"`` (text; ``encoding`` defaults to UTF-8).
    encoding, newline:
        As for :func:`open`, text mode only.
    permissions:
        Permission bits of the new file, before the umask (``0o600`` for secrets).
    overwrite:
        If False, refuse to replace an existing ``path`` (raises :class:`FileExistsError`,
        checked both before writing and, race-free, at the final link).

    Raises
    ------
    FileExistsError
        ``overwrite=False`` and ``path`` exists.
    OutputError
        ``path`` is a folder, device, FIFO or socket; or the operating system refused
        (folder missing or not writable, read-only file system, disk full, ...): the
        message names ``path`` and the reason, with a hint.

    Example
    -------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(d / "out.txt", "w") as fh:
    ...     _ = fh.write("hello")
    >>> (d / "out.txt").read_text()
    'hello'
    """
    if mode not in ("w", "wb"):
        msg = f"mode must be 'w' or 'wb', got {mode!r}"
        raise ValueError(msg)
    if "b" in mode and (encoding is not None or newline is not None):
        msg = "encoding/newline are only valid in text mode ('w')"
        raise ValueError(msg)
    dest = Path(path)
    if not overwrite and dest.exists():
        raise FileExistsError(f"{dest} already exists")
    _check_replaceable(dest)
    try:
        tmp, fd = _create_temp(dest, permissions)
    except OSError as exc:
        raise output_error(dest, exc) from None
    try:
        try:
            fh: IO[Any] = (
                os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
                if mode == "w"
                else os.fdopen(fd, "wb")
            )
        except BaseException:
            os.close(fd)
            raise
        with fh:
            try:
                yield fh
            except OSError as exc:
                # The body's own errors pass unchanged (a read error is the reader's to
                # report), except those only a write can cause: they concern ``dest``.
                if exc.filename is None and exc.errno in _WRITE_ONLY_ERRORS:
                    raise output_error(dest, exc) from None
                raise
            try:
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:
                raise output_error(dest, exc) from None
        try:
            if overwrite:
                os.replace(tmp, dest)
            else:
                os.link(tmp, dest)  # fails if dest appeared meanwhile: no silent clobbering
                tmp.unlink()
        except FileExistsError:
            if overwrite:
                raise
            raise FileExistsError(f"{dest} already exists") from None
        except OSError as exc:
            raise output_error(dest, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, **kwargs: Any) -> None:
    """Write ``data`` to ``path`` atomically (keyword options as :func:`atomic_write`)."""
    with atomic_write(path, "wb", **kwargs) as fh:
        fh.write(data)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", **kwargs: Any
) -> None:
    """Write ``text`` to ``path`` atomically (keyword options as :func:`atomic_write`)."""
    with atomic_write(path, "w", encoding=encoding, **kwargs) as fh:
        fh.write(text)


#: Hints for the errors the operating system gives when writing, by errno.
_HINTS = {
    errno.EACCES: "check the permissions of the file and its folder, or write elsewhere",
    errno.EPERM: "check the permissions of the file and its folder, or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.ENOSPC: "free some space or write elsewhere; nothing was left half-written",
    errno.EDQUOT: "free some space or write elsewhere; nothing was left half-written",
    errno.ENOENT: "check the path: its folder must exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "give a file name, not a folder",
    errno.ENAMETOOLONG: "choose a shorter file name",
}


#: Errors only a write raises: inside the ``with`` body they concern the file written.
_WRITE_ONLY_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def os_error_hint(exc: OSError) -> str | None:
    """A one-line hint for an operating-system error, or None."""
    return _HINTS.get(exc.errno) if exc.errno is not None else None


def output_error(path: Path, exc: OSError) -> OutputError:
    """``cannot write PATH: REASON`` with a hint, for an OS error while writing ``path``."""
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"cannot write {path}: {reason}", hint=os_error_hint(exc))


def _check_replaceable(dest: Path) -> None:
    try:
        mode = dest.stat().st_mode
    except OSError:
        return  # missing (or unreachable: creating the temp file reports it)
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {dest}: it is a folder", hint=_HINTS[errno.EISDIR])
    if not stat.S_ISREG(mode):
        raise OutputError(
            f"cannot write {dest}: it is a device, pipe or socket, not a regular file",
            hint="write to a regular file",
        )


def _create_temp(dest: Path, permissions: int) -> tuple[Path, int]:
    """Create a fresh hidden temp file beside ``dest``; return its path and descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        # Clearly named (pid inside), so a later run can remove it if this one is killed.
        tmp = dest.with_name(new_temp_name(dest.name))
        try:
            return tmp, os.open(tmp, flags, permissions)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue


def fsync_dir(directory: Path) -> None:
    """Persist a rename; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platform dependent
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)
