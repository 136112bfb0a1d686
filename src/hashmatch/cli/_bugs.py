"""What a bug prints: where it happened, never what it was about.

An exception other than a :class:`~hashmatch.errors.HashmatchError` (handled by each
command, exit 2) or an anticipated ``OSError`` is a bug in hashmatch. Its message may
quote a value from the data it was handling (``KeyError('ann@acme.co.uk')``), and a
party's terminal, CI log or support ticket is no place for that: the console script
prints the exception's type and the code locations of its traceback (file, line and
function: code only, nothing of the data) and exits 1. The whole traceback is one
environment variable away (:data:`DEBUG_VARIABLE`), for whoever runs the command on the
machine that holds the data.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import PurePath
from typing import TextIO

#: Set (to anything but empty) to see a bug's whole traceback, messages included.
DEBUG_VARIABLE = "HASHMATCH_DEBUG"
_FRAMES_SHOWN = 12  # the innermost: where the bug is


def report_bug(exc: BaseException, stream: TextIO | None = None) -> None:
    """Print the bug ``exc`` without its message (nor its causes' messages)."""
    out = stream if stream is not None else sys.stderr
    frames = traceback.extract_tb(exc.__traceback__)[-_FRAMES_SHOWN:]
    lines = [
        f"hashmatch: internal error: {type(exc).__name__} (a bug in hashmatch, "
        "not a problem with your data or options). Where it happened:",
        *(f"  {_code_path(f.filename)}:{f.lineno} in {f.name}" for f in frames),
        "The error's message is not shown: it may quote a value from your data. To see",
        f"it, run the command again with {DEBUG_VARIABLE}=1 (on this machine) and remove",
        "any values before sharing the output in a bug report.",
    ]
    print("\n".join(lines), file=out)


def _code_path(filename: str) -> str:
    """A source file's path from its package down (``hashmatch/encode/encoder.py``):
    the rest of the path names the user's folders, which a report does not need."""
    parts = PurePath(filename).parts
    for anchor in ("hashmatch", "site-packages"):
        if anchor in parts:
            at = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[at + (anchor == "site-packages") :])
    return PurePath(filename).name
