"""Names of the temporary files and folders hashmatch leaves beside its outputs while writing.

Every temporary entry is named ``.hashmatch-tmp-<host>-<pid>-<random>[.<name>]``: hidden,
recognisable, and saying who made it (``host``: 8 hex digits of a hash of the host name;
``pid``: the writing process). A later run treats an entry as *stale* (left by a killed
run) when its process is gone on this host, or when nothing in it changed for
:data:`STALE_AFTER_SECONDS` (covers other hosts on a shared folder and reused pids).
:func:`hashmatch.output_set.clean_stale` removes or completes stale entries.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PREFIX", "STALE_AFTER_SECONDS", "TempName", "is_stale", "new_temp_name", "parse"]

PREFIX = ".hashmatch-tmp-"
#: An entry unchanged for this long is stale even if a process with its pid runs.
STALE_AFTER_SECONDS = 2 * 24 * 3600
_PATTERN = re.compile(r"\.hashmatch-tmp-([0-9a-f]{8})-(\d+)-([0-9a-f]{12})(?:\.(.*))?", re.S)
_NAME_KEEP = 100  # characters of the destination name kept in a temp file's name


@dataclass(frozen=True)
class TempName:
    """The parts of a temporary entry's name."""

    host: str
    pid: int
    suffix: str | None


def _host_tag() -> str:
    return hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()


def new_temp_name(for_name: str | None = None) -> str:
    """A fresh temporary name; ``for_name`` (a destination file name) is appended."""
    base = f"{PREFIX}{_host_tag()}-{os.getpid()}-{secrets.token_hex(6)}"
    return f"{base}.{for_name[:_NAME_KEEP]}" if for_name else base


def parse(name: str) -> TempName | None:
    """The parts of ``name`` if it is a hashmatch temporary name, else None."""
    match = _PATTERN.fullmatch(name)
    if match is None:
        return None
    return TempName(match.group(1), int(match.group(2)), match.group(4))


def is_stale(path: Path, now: float | None = None) -> bool:
    """True when the temporary entry ``path`` was left by a run that is no longer writing."""
    parsed = parse(path.name)
    if parsed is None:
        return False
    if _last_change(path) < (now if now is not None else time.time()) - STALE_AFTER_SECONDS:
        return True
    if parsed.host != _host_tag():
        return False  # another machine's run on a shared folder: only age tells
    return not _pid_alive(parsed.pid)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:  # pragma: no cover - e.g. Windows semantics
        return True
    return True


def _last_change(path: Path) -> float:
    """Newest modification time of ``path`` and everything under it."""
    try:
        latest = path.lstat().st_mtime
    except OSError:
        return 0.0
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                try:
                    latest = max(latest, os.lstat(os.path.join(root, name)).st_mtime)
                except OSError:
                    continue
    return latest
