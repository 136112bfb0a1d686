"""Party-side rejoin: turn the coordinator's per-party results into own record ids.

The coordinator hands each party ``RESULTS/<party>.csv`` (``row_token,entity_id`` and,
optionally, ``other_parties``). Only the party holds its lookup file (``row_token,
record_id``, written by ``hashmatch encode``), so only the party can rejoin its own record
ids; this runs on the party's machine. The output keeps the lookup's owner-only permission
because it links internal ids to entities.
"""

from __future__ import annotations

import csv
import os
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


def reveal(party_results_csv: PathLike, lookup_csv: PathLike, out: PathLike) -> RevealSummary:
    """Join ``record_id`` from the lookup onto the party's results by row token.

    Writes ``out`` as CSV ``record_id,entity_id`` (+ ``other_parties`` when the results
    carry it), in the results' row order.

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
    results_path, lookup_path, out_path = Path(party_results_csv), Path(lookup_csv), Path(out)
    if out_path.resolve() in {results_path.resolve(), lookup_path.resolve()}:
        msg = f"{out_path}: the output must differ from the results and lookup files"
        raise ResultsError(msg)
    lookup = _read_lookup(lookup_path)
    header, rows = _read_results(results_path)
    extra = header[2:]
    written = 0
    entities: set[str] = set()
    shared = 0
    used: set[str] = set()
    with atomic_write(out_path, "w", newline="", permissions=0o600) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["record_id", "entity_id", *extra])
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
            entities.add(row[1])
            if extra and row[2]:
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
    if not table or [c.strip().lower() for c in table[0][:2]] != ["row_token", "entity_id"]:
        msg = f"{path}: not a party results file (expected the header row_token,entity_id)"
        raise ResultsError(msg, hint="pass RESULTS/<party>.csv written by hashmatch link")
    header = [c.strip() for c in table[0]]
    rows: list[tuple[int, list[str]]] = []
    for line_no, row in enumerate(table[1:], start=2):
        if len(row) != len(header):
            raise ResultsError(f"{path}, line {line_no}: expected {len(header)} columns")
        rows.append((line_no, row))
    return header, rows
