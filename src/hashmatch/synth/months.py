"""Two monthly snapshots of a ``synthesize`` folder, for registry demos, tests, benchmarks.

Month 1 is the parties' full files with a share of records *changed* (a new e-mail, a
moved address or a married name, whichever the party has) and a share *removed*; month
0 is the same parties a month earlier: without the records that are new in month 1
(``held_back``), with the removed ones, and with the changed ones as they were. Record
ids and the truth are those of the source folder, so both months evaluate against
``truth.csv``. A pure function of the seed.
"""

from __future__ import annotations

import csv
import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from random import Random

__all__ = ["MonthCounts", "split_months"]

#: Field changed in a changed record, in order of preference, and how.
_CHANGES = ("email", "address", "last_name")


@dataclass(frozen=True)
class MonthCounts:
    party: str
    month0: int
    month1: int
    held_back: int
    changed: int
    removed: int


def split_months(source: str | os.PathLike[str], out: str | os.PathLike[str], *, seed: int = 0,
                 held_back: float = 0.05, changed: float = 0.01, removed: float = 0.01,
                 names: tuple[str, str] = ("month0", "month1")) -> list[MonthCounts]:
    """Write ``out/month0/`` and ``out/month1/`` (each: the parties' CSVs, mappings,
    ``schema.toml`` and ``truth.csv``) from the synthesised folder ``source``; ``names``
    renames the two folders (the demo's are ``month1`` and ``month2``)."""
    src, dst = Path(source), Path(out)
    before, after = names
    rng = Random(seed)
    counts = []
    for month in names:
        (dst / month).mkdir(parents=True, exist_ok=True)
        for name in ("schema.toml", "truth.csv"):
            shutil.copyfile(src / name, dst / month / name)
    for mapping_path in sorted(src.glob("*.mapping.toml")):
        party = mapping_path.name.removesuffix(".mapping.toml")
        mapping = tomllib.loads(mapping_path.read_text())
        for month in names:
            shutil.copyfile(mapping_path, dst / month / mapping_path.name)
        with (src / f"{party}.csv").open(newline="") as fh:
            table = list(csv.reader(fh))
        header, rows = table[0], table[1:]
        columns = {f: header.index(spec["column"]) for f, spec in mapping["fields"].items()
                   if isinstance(spec, dict) and spec.get("column") in header}
        n = len(rows)
        order = list(range(n))
        rng.shuffle(order)
        k_new, k_changed, k_removed = (round(n * share) for share in
                                       (held_back, changed, removed))
        new = set(order[:k_new])
        changes = order[k_new:k_new + k_changed]
        gone = set(order[k_new + k_changed:k_new + k_changed + k_removed])
        month1 = [list(r) for r in rows]
        for r in changes:
            _change(month1[r], columns, rows, rng)
        _write(dst / before / f"{party}.csv", header,
               [rows[r] for r in range(n) if r not in new])
        _write(dst / after / f"{party}.csv", header,
               [month1[r] for r in range(n) if r not in gone])
        counts.append(MonthCounts(party, n - len(new), n - len(gone), len(new), len(changes),
                                  len(gone)))
    return counts


def _change(row: list[str], columns: dict[str, int], rows: list[list[str]], rng: Random) -> None:
    field = next((f for f in _CHANGES if f in columns), None)
    if field is None:
        return
    col = columns[field]
    if field == "email":
        user, _, domain = row[col].partition("@")
        row[col] = f"{user or 'someone'}.{rng.randrange(10, 99)}@{domain or 'example.org'}"
    elif field == "address":
        row[col] = f"{rng.randrange(1, 9999)} {rng.choice(['Oak', 'Elm', 'Mill', 'Bay'])} Street"
    else:
        row[col] = rng.choice(rows)[col]  # someone else's surname: a married name


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
