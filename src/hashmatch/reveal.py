"""Party-side rejoin: turn the coordinator's per-party results into own record ids.

The coordinator hands each party ``RESULTS/<party>.csv`` (``row_token,entity_id``,
optionally ``other_parties``, and ``run_id``) and, from a registry run,
``RESULTS/<party>.changes.csv`` (``row_token,previous_id,new_id,event``); any such file whose
first column is the row token reveals the same way. Only the party holds its lookup file
(``row_token,record_id``, written by ``hashmatch encode``, see :mod:`hashmatch.lookup`), so
only the party can rejoin its own record ids; this runs on the party's machine.

Before writing anything, :func:`reveal` checks that the pieces belong together: every row
of the results file carries one run id, the ``report.json`` beside it (when there is one)
names that run and this file, every row token is in the lookups (else a lookup is from
another encoding run or party), and no record id gets two different lines (two entities:
a lookup made from a file with duplicate ids). Files written before run ids existed are
read as before.

The output (``record_id`` + the results' other columns: ``entity_id`` and ``other_parties``
when carried, ``previous_id,new_id,event`` for a changes file; one line per record, in the
results' row order) keeps the lookup's owner-only permission
because it links internal ids to entities; ``-`` writes it to standard output. Its cells
are spreadsheet-safe (:mod:`hashmatch.csv_cells`).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hashmatch.atomic import atomic_write
from hashmatch.csv_cells import safe_cell
from hashmatch.errors import ResultsError
from hashmatch.link.outputs import REPORT_FILE, RUN_ID_COLUMN
from hashmatch.lookup import check_lookup_covers, read_lookup
from hashmatch.output_policy import check_output_file, is_stdout

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
    run_id: str | None = None  # the link run the results came from (None: older file)


def reveal(
    party_results_csv: PathLike,
    lookup_csv: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    force: bool = False,
) -> RevealSummary:
    """Join ``record_id`` from the lookup onto the party's results by row token.

    Writes ``out`` (``-``: standard output) as CSV ``record_id`` + the results' other
    columns (``entity_id`` and ``other_parties`` when carried; ``previous_id,new_id,event``
    for a changes file), in the results' row order. Several lookups may be given: row
    tokens are stable under the party's row key, so last month's lookup names the records
    removed since (the first lookup wins). An existing ``out`` is replaced only with
    ``force``; the results and lookup files never.

    Raises
    ------
    ResultsError
        A file is missing or lacks its columns; the results mix runs or do not match the
        report.json beside them; a row token of the results is not in the lookup (the
        lookup belongs to another party or another encoding run); or a record id would get
        two entity ids.
    OutputError
        ``out`` exists (without ``force``), is an input, or cannot be written.

    Example
    -------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.csv").write_text("row_token,entity_id,run_id\\n" + "0" * 32 + ",E1,ab12\\n")
    >>> _ = (d / "a.lookup").write_text("row_token,record_id\\n" + "0" * 32 + ",cust-7\\n")
    >>> reveal(d / "a.csv", d / "a.lookup", d / "out.csv").run_id
    'ab12'
    >>> (d / "out.csv").read_text().splitlines()
    ['record_id,entity_id', 'cust-7,E1']
    """
    lookups = (
        [Path(lookup_csv)]
        if isinstance(lookup_csv, (str, os.PathLike))
        else [Path(p) for p in lookup_csv]
    )
    results_path = Path(party_results_csv)
    to_stdout = is_stdout(out)
    out_path = Path(out)
    if not to_stdout:
        check_output_file(out_path, force=force, reads=[results_path, *lookups])
    header, rows, run_id = _read_results(results_path)
    lookup: dict[str, str] = {}
    for path in reversed(lookups):  # the first lookup wins
        lookup.update(read_lookup(path))
    check_lookup_covers(
        lookup,
        (row[0].lower() for _, row in rows),
        lookup_path=" + ".join(map(str, lookups)),
        what=str(results_path),
    )
    lines = _joined(rows, lookup, results_path)
    changes = header[1].lower() == "previous_id"
    with _output(out_path, to_stdout) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["record_id", *header[1:]])
        writer.writerows(lines)
    used = {row[0].lower() for _, row in rows}
    return RevealSummary(
        out_path,
        len(lines),
        len({line[2] if changes else line[1] for line in lines}),
        sum(1 for line in lines if len(header) > 2 and line[2] and not changes),
        len(lookup) - len(used),
        run_id,
    )


def _joined(
    rows: list[tuple[int, list[str]]], lookup: dict[str, str], results_path: Path
) -> list[list[str]]:
    """One output line per record id; refuse a record id with two different lines (two
    entities: the encoded file held the id twice)."""
    line_of: dict[str, tuple[str, ...]] = {}
    lines: list[list[str]] = []
    conflicts = 0
    for _, row in rows:
        record_id = lookup[row[0].lower()]
        rest = tuple(row[1:])
        seen = line_of.get(record_id)
        if seen is None:
            line_of[record_id] = rest
            lines.append([safe_cell(record_id), *map(safe_cell, rest)])
        elif seen != rest:
            conflicts += 1
    if conflicts:
        raise ResultsError(
            f"{results_path}: {conflicts:,} record id(s) of the lookup would get two different "
            "entity ids (the encoded file held duplicate record ids)",
            hint="remove the duplicates (or give every row its own id) and encode again",
        )
    return lines


@contextmanager
def _output(path: Path, to_stdout: bool) -> Iterator[IO[str]]:
    if to_stdout:
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_write(path, "w", newline="", permissions=0o600) as fh:
        yield fh


def _open(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a folder, not a party results file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ResultsError(f"{path}: cannot be read as a CSV file ({reason})") from None


def _read_results(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], str | None]:
    """Header (without run_id), rows (line number, cells without run_id) and the run id."""
    table = _open(path)
    first = [c.strip().lower() for c in table[0][:2]] if table else []
    if first not in (["row_token", "entity_id"], ["row_token", "previous_id"]):
        msg = f"{path}: not a party results file (expected the header row_token,entity_id)"
        raise ResultsError(msg, hint="pass RESULTS/<party>.csv written by hashmatch link")
    header = [c.strip() for c in table[0]]
    run_at = header.index(RUN_ID_COLUMN) if RUN_ID_COLUMN in header else None
    rows: list[tuple[int, list[str]]] = []
    runs: set[str] = set()
    for line_no, row in enumerate(table[1:], start=2):
        if len(row) != len(header):
            raise ResultsError(f"{path}, line {line_no}: expected {len(header)} columns")
        if run_at is not None:
            runs.add(row.pop(run_at))
        rows.append((line_no, row))
    if run_at is not None:
        header.pop(run_at)
    if len(runs) > 1:
        raise ResultsError(
            f"{path} mixes rows of {len(runs)} link runs",
            hint="ask the coordinator for the party file of one run",
        )
    run_id = next(iter(runs)) if runs else None
    _check_report(path, run_id, has_run_column=run_at is not None)
    return header, rows, run_id


def _check_report(path: Path, run_id: str | None, *, has_run_column: bool) -> None:
    """When a report.json lies beside the file, it must name this run and this file."""
    report_path = path.parent / REPORT_FILE
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return  # a party file on its own, as the coordinator sends it
    except (OSError, ValueError):
        raise ResultsError(f"{report_path}: cannot be read as a link report") from None
    reported = report.get("run_id") if isinstance(report, dict) else None
    if reported is None:
        return  # a folder written before run ids existed
    outputs = report.get("outputs", {})
    listed = [*outputs.get("parties", {}).values(), *outputs.get("changes", {}).values()]
    if not has_run_column or run_id != reported or path.name not in listed:
        raise ResultsError(
            f"{path} is not a file of the link run described by {report_path} "
            "(left over from another run, or copied in)",
            hint="use the party file the same link run wrote",
        )
