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
``permissions=0o600`` is never readable by others, not even for a moment.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]

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
    OSError
        The directory is missing or not writable, the disk is full, ...

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
    tmp, fd = _create_temp(dest, permissions)
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
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, dest)
        else:
            os.link(tmp, dest)  # fails if dest appeared meanwhile: no silent clobbering
            tmp.unlink()
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(dest.parent)


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


def _create_temp(dest: Path, permissions: int) -> tuple[Path, int]:
    """Create a fresh hidden temp file beside ``dest``; return its path and descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        # Hidden and clearly named, so a crash-orphaned file is recognisable and ignorable.
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, permissions)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue


def _fsync_dir(directory: Path) -> None:
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
