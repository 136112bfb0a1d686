"""The party's lookup file: the only link from row tokens back to the party's own ids.

``hashmatch encode`` writes it beside the ``.hme`` file (mode 0600, CSV with CRLF lines)::

    row_token,record_id
    <32 hex digits>,<the party's record id, spreadsheet-safe: see hashmatch.csv_cells>

Row tokens are the record ids under the party's private row key (16 bytes; stable from run
to run with the same key, unrelated across parties and keys), so a lookup *fits* an
encoding file, a party results file or an ``entities.csv`` only if their row tokens are its
own: one token missing means another party's lookup, one made with another row key, or a
truncated one, and hashmatch then refuses rather than join the wrong ids.
:func:`read_lookup` is the one reader (``reveal``, ``evaluate``, ``audit --raw``); the
writer is ``hashmatch.encode.pipeline``'s.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from pathlib import Path

from hashmatch.csv_cells import unescape_cell
from hashmatch.errors import ResultsError

__all__ = ["LOOKUP_HEADER", "check_lookup_covers", "read_lookup"]

LOOKUP_HEADER = ("row_token", "record_id")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_HINT = "pass the .lookup file written by hashmatch encode together with this .hme file"


def read_lookup(path: str | os.PathLike[str]) -> dict[str, str]:
    """Row token (lower-case hex) -> record id, for every row of the lookup file.

    Raises
    ------
    ResultsError
        The file is missing or unreadable, lacks the header, or a line has the wrong
        number of cells, a malformed row token, or a row token seen before (the message
        names the line, never its content).

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.lookup"
    >>> _ = p.write_text("row_token,record_id\\r\\n" + "0a" * 16 + ",'=7\\r\\n")
    >>> read_lookup(p)
    {'0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a': '=7'}
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or tuple(c.strip().lower() for c in header) != LOOKUP_HEADER:
                msg = f"{p}: not a lookup file (expected the header row_token,record_id)"
                raise ResultsError(msg, hint=_HINT)
            lookup: dict[str, str] = {}
            for line_no, row in enumerate(reader, start=2):
                if len(row) != 2:
                    raise ResultsError(f"{p}, line {line_no}: expected 2 cells, got {len(row)}")
                token = row[0].strip().lower()
                if _TOKEN.fullmatch(token) is None:
                    raise ResultsError(f"{p}, line {line_no}: not a row token (32 hex digits)")
                if token in lookup:
                    raise ResultsError(
                        f"{p}, line {line_no}: this row token appeared on an earlier line",
                        hint="the lookup is corrupt: encode again",
                    )
                lookup[token] = unescape_cell(row[1])
            return lookup
    except FileNotFoundError:
        raise ResultsError(f"{p}: no such file", hint=_HINT) from None
    except IsADirectoryError:
        raise ResultsError(f"{p}: is a folder, not a lookup file", hint=_HINT) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ResultsError(f"{p}: cannot be read as a lookup file ({reason})") from None


def check_lookup_covers(
    lookup: dict[str, str],
    tokens: Iterable[str],
    *,
    lookup_path: str | os.PathLike[str],
    what: str,
) -> None:
    """Refuse a lookup that lacks a row token of ``what`` (hex ``tokens``).

    Raises
    ------
    ResultsError
        Some token is not in the lookup: the lookup is from another encoding run or party.
    """
    missing = sum(1 for token in tokens if token not in lookup)
    if missing:
        raise ResultsError(
            f"{lookup_path} does not belong to {what}: {missing:,} of its row tokens are not "
            "in the lookup (it is from another encoding run or another party)",
            hint=_HINT,
        )
