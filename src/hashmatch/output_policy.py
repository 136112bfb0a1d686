"""The output policy every command follows before it writes anything.

* An existing output is replaced only with ``--force`` (``force=True``).
* A file the same run reads (data, secret, schema, mapping, lookup, keys, encoding files)
  is never written over, not even with ``--force``; files are compared by resolved path
  and by identity (:func:`os.path.samefile`: hard links, symlinks, ``./`` spellings).
* A file output must be a regular file or not exist yet: a folder, device (``/dev/full``),
  FIFO or socket is refused, so a device node is never replaced by a file.
* A file output's folder must exist; ``-`` (standard output) is refused unless the command
  supports it (``reveal -o -``) and checks for it first.
* A folder output (``link -o RESULTS``) that is not empty is replaced as a whole only with
  ``--force``, and only when it holds nothing but files the command itself writes and no
  file the run reads, so ``--force`` never deletes unrelated files.

The checks run before any work, so a refusal costs nothing. Messages name the path and the
option that overrides, never file content.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from hashmatch._temp_names import parse as parse_temp_name
from hashmatch.errors import OutputError

__all__ = ["STDOUT", "check_output_file", "check_output_folder", "is_stdout", "same_file"]

PathLike = str | os.PathLike[str]
#: The path that means standard output where a command supports it.
STDOUT = "-"
_FORCE_HINT = "pass --force (force=True) to replace it, or choose another path"


def is_stdout(path: PathLike | None) -> bool:
    """True when ``path`` is ``-`` (standard output)."""
    return path is not None and os.fspath(path) == STDOUT


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (resolved path or same inode)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
    except (OSError, RuntimeError):  # symlink loop: compare by identity only
        pass
    try:
        return os.path.samefile(pa, pb)
    except OSError:
        return False


def check_output_file(
    path: PathLike, *, force: bool = False, reads: Iterable[PathLike | None] = ()
) -> Path:
    """Check that ``path`` may be written as a file; return it as a :class:`Path`.

    Raises
    ------
    OutputError
        ``path`` is ``-``, its folder is missing, it is a folder, device, FIFO or socket,
        it is one of ``reads``, or it exists and ``force`` is False.
    """
    out = Path(path)
    if is_stdout(out):
        raise OutputError(
            "'-' (standard output) cannot take this output", hint="give a file name"
        )
    parent = out.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise OutputError(
            f"cannot write {out}: folder {parent} {what}",
            hint="create the folder first, or choose another path",
        )
    _check_not_an_input(out, reads)
    try:
        mode = out.stat().st_mode
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise OutputError(
            f"cannot write {out}: it is a folder", hint="give a file name (inside it, perhaps)"
        )
    if not stat.S_ISREG(mode):
        raise OutputError(
            f"cannot write {out}: it is a device, pipe or socket, not a regular file",
            hint="write to a regular file",
        )
    if not force:
        raise OutputError(f"{out} exists; refusing to overwrite it", hint=_FORCE_HINT)
    return out


def check_output_folder(
    path: PathLike,
    *,
    force: bool = False,
    reads: Iterable[PathLike | None] = (),
    replaceable: Callable[[str], bool] = lambda name: False,
) -> Path:
    """Check that ``path`` may be (re)written as a whole folder; return it as a :class:`Path`.

    ``replaceable(name)`` says whether a file of that name may be deleted by ``force``
    (the files the command writes); anything else in the folder (another file, a
    subfolder) makes the folder irreplaceable.

    Raises
    ------
    OutputError
        ``path`` is ``-``, exists and is not a folder, holds a file of ``reads``, or is not
        empty and ``force`` is False or it holds files the command does not write.
    """
    out = Path(path)
    if is_stdout(out):
        raise OutputError(
            "'-' (standard output) cannot take a results folder", hint="give a folder name"
        )
    for read in _paths(reads):
        if same_file(read, out) or _inside(read, out):
            raise OutputError(
                f"{out} holds {read}, which this command reads; refusing to write there",
                hint="choose a separate output folder",
            )
    if not out.exists():
        if out.is_symlink():
            raise OutputError(f"cannot write {out}: it is a broken symbolic link")
        return out
    if not out.is_dir():
        raise OutputError(
            f"cannot write the folder {out}: a file of that name exists",
            hint="choose another folder name",
        )
    try:
        entries = [e for e in os.listdir(out) if parse_temp_name(e) is None]
    except OSError as exc:
        raise OutputError(f"cannot read the folder {out}: {exc.strerror}") from None
    if not entries:
        return out
    if not force:
        raise OutputError(
            f"{out} is not empty; refusing to write into it",
            hint="pass --force (force=True) to replace the whole folder, or choose a new one",
        )
    foreign = [e for e in entries if not ((out / e).is_file() and replaceable(e))]
    if foreign:
        raise OutputError(
            f"{out} holds {len(foreign)} file(s) or folder(s) this command does not write; "
            "refusing to replace it even with --force",
            hint="choose a new folder, or empty this one yourself",
        )
    return out


def _check_not_an_input(out: Path, reads: Iterable[PathLike | None]) -> None:
    for read in _paths(reads):
        if same_file(out, read):
            raise OutputError(
                f"{out} is also an input of this command; refusing to write over it "
                "(even with --force)",
                hint="choose another output path",
            )


def _paths(reads: Iterable[PathLike | None]) -> list[Path]:
    return [Path(os.fspath(r)) for r in reads if r is not None and not is_stdout(r)]


def _inside(path: Path, folder: Path) -> bool:
    try:
        return folder.resolve() in path.resolve().parents
    except (OSError, RuntimeError):
        return False
