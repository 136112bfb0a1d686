"""Party-side rejoin: turn the coordinator's per-party results into own record ids.

The coordinator hands each party ``RESULTS/<party>.csv`` (``row_token,entity_id`` and,
optionally, ``other_parties``) and, from a registry run, ``RESULTS/<party>.changes.csv``
(``row_token,previous_id,new_id,event``); any such file whose first column is the row
token reveals the same way. Only the party holds its lookup file (``row_token,
record_id``, written by ``hashmatch encode``), so only the party can rejoin its own record
ids; this runs on the party's machine. The output keeps the lookup's owner-only permission
because it links internal ids to entities.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hashmatch.atomic import atomic_write
from hashmatch.errors import ResultsError

__all__ = ["RevealSummary", "reveal"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class RevealSummary:
    """What :func:`reveal` wrote."""

    out: Path
    rows: int  # records written
    entities: int  # distinct entity ids among them
    shared: int  # records whose entity holds rows of other parties (if known)
    lookup_rows_unused: int  # lookup rows absent from the results (not linked)


def reveal(party_results_csv: PathLike, lookup_csv: PathLike | Sequence[PathLike],
           out: PathLike) -> RevealSummary:
    """Join ``record_id`` from the lookup onto the party's results by row token.

    Writes ``out`` as CSV ``record_id`` + the results' other columns (``entity_id`` and
    ``other_parties`` when carried; ``previous_id,new_id,event`` for a changes file), in
    the results' row order. Several lookups may be given: row tokens are stable under the
    party's row key, so last month's lookup names the records removed since.

    Raises
    ------
    ResultsError
        A file is missing or lacks its columns, or a row token of the results is not in
        the lookup (the lookup belongs to another party or another encoding run).

    Example
    -------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.csv").write_text("row_token,entity_id\\n" + "0" * 32 + ",E1\\n")
    >>> _ = (d / "a.lookup").write_text("row_token,record_id\\n" + "0" * 32 + ",cust-7\\n")
    >>> reveal(d / "a.csv", d / "a.lookup", d / "out.csv").rows
    1
    >>> (d / "out.csv").read_text().splitlines()
    ['record_id,entity_id', 'cust-7,E1']
    """
    lookups = [Path(lookup_csv)] if isinstance(lookup_csv, str | os.PathLike) else [
        Path(p) for p in lookup_csv]
    results_path, out_path = Path(party_results_csv), Path(out)
    lookup_path = lookups[0]
    if out_path.resolve() in {results_path.resolve(), *(p.resolve() for p in lookups)}:
        msg = f"{out_path}: the output must differ from the results and lookup files"
        raise ResultsError(msg)
    lookup: dict[str, str] = {}
    for path in reversed(lookups):  # the first lookup wins
        lookup.update(_read_lookup(path))
    header, rows = _read_results(results_path)
    extra = header[2:]
    changes = header[1].lower() == "previous_id"
    written = 0
    entities: set[str] = set()
    shared = 0
    used: set[str] = set()
    with atomic_write(out_path, "w", newline="", permissions=0o600) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["record_id", *header[1:]])
        for line_no, row in rows:
            token = row[0].lower()
            record_id = lookup.get(token)
            if record_id is None:
                msg = (
                    f"{results_path}, line {line_no}: row token not in {lookup_path}; "
                    "the lookup is from another party or another encoding run"
                )
                raise ResultsError(msg, hint="use the lookup written with this party's .hme file")
            used.add(token)
            entities.add(row[2] if changes else row[1])
            if extra and row[2] and not changes:
                shared += 1
            writer.writerow([record_id, row[1], *row[2:]])
            written += 1
    return RevealSummary(out_path, written, len(entities), shared, len(lookup) - len(used))


def _open(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = type(exc).__name__
        raise ResultsError(f"{path}: cannot be read as a CSV file ({reason})") from None


def _read_lookup(path: Path) -> dict[str, str]:
    table = _open(path)
    if not table or [c.strip().lower() for c in table[0][:2]] != ["row_token", "record_id"]:
        msg = f"{path}: not a lookup file (expected the header row_token,record_id)"
        raise ResultsError(msg, hint="pass the .lookup file written by hashmatch encode")
    lookup: dict[str, str] = {}
    for line_no, row in enumerate(table[1:], start=2):
        if len(row) < 2:
            raise ResultsError(f"{path}, line {line_no}: expected 2 columns")
        lookup[row[0].lower()] = row[1]
    return lookup


def _read_results(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    table = _open(path)
    first = [c.strip().lower() for c in table[0][:2]] if table else []
    if first not in (["row_token", "entity_id"], ["row_token", "previous_id"]):
        msg = f"{path}: not a party results file (expected the header row_token,entity_id)"
        raise ResultsError(msg, hint="pass RESULTS/<party>.csv written by hashmatch link")
    header = [c.strip() for c in table[0]]
    rows: list[tuple[int, list[str]]] = []
    for line_no, row in enumerate(table[1:], start=2):
        if len(row) != len(header):
            raise ResultsError(f"{path}, line {line_no}: expected {len(header)} columns")
        rows.append((line_no, row))
    return header, rows
