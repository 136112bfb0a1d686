"""Reading speed of the input readers, each against a bare ``csv.reader`` pass measured in
the same run, and the cost of the duplicate record-id check.

Measures, on FEBRL 4 (``tests/data/febrl4/dataset4a.csv``) repeated to ``--rows`` rows with
fresh record ids, CPU seconds (median of ``--repeats`` interleaved rounds, one core) of:

* ``csv.reader``: the reference, a bare pass of Python's csv module over the file (no
  chunks, no checks): what any CSV reader in Python pays at least;
* the Python reader (:class:`hashmatch.encode.sources.rows.CsvSource`, with recovery from
  unclosed quotes and oversized cells), on the clean file and on the same file with one row
  in 1,000 holding a quoted line break (the chunks holding one are checked row by row);
* the columnar reader (pyarrow, :mod:`hashmatch.encode.sources.columnar`) on the clean file,
  the file with line breaks, and the clean file gzip-compressed;
* the duplicate record-id check (:class:`hashmatch.encode.record_ids.SeenIds`) over the
  file's ids in chunks of 50,000, against a Python ``set`` of the ids (the reference; the
  check keeps 8 bytes per id instead of a string and a set slot).

Run::

    python benchmarks/readers.py            # 500k rows, median of 5
    python benchmarks/readers.py --quick    # smoke test (seconds)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.encode import cpu_seconds, pin_one_core, write_repeated  # noqa: E402

CHUNK = 50_000


def bare_csv(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def python_reader(path: Path) -> int:
    from hashmatch.encode.sources.rows import CsvSource

    return sum(chunk.read for chunk in CsvSource(path).chunks(CHUNK))


def columnar_reader(path: Path) -> int:
    from hashmatch.encode.sources.rows import open_source

    return sum(chunk.read for chunk in open_source(path).chunks(CHUNK))


def ids_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        ids = [row[0] for row in csv.reader(fh)][1:]
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def seen_ids(chunks: list[list[str]]) -> int:
    from hashmatch.encode.record_ids import SeenIds

    seen = SeenIds()
    return sum(int(seen.repeated(ids).sum()) for ids in chunks)


def python_set(chunks: list[list[str]]) -> int:
    seen: set[str] = set()
    repeated = 0
    for ids in chunks:
        for rid in ids:
            repeated += rid in seen
            seen.add(rid)
    return repeated


def with_line_breaks(source: Path, target: Path) -> None:
    """``source`` with one row in 1,000 holding a quoted line break in its address."""
    with source.open(newline="") as fh, target.open("w", newline="") as out:
        writer = csv.writer(out)
        for i, row in enumerate(csv.reader(fh)):
            if i and i % 1000 == 0:
                row[4] = row[4] + "\nflat 2"
            writer.writerow(row)


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeats", type=int, default=5, help="rounds; the median is shown")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.repeats = 20_000, 1
    pin_one_core()
    with tempfile.TemporaryDirectory() as tmp:
        clean, broken, packed = (Path(tmp) / n for n in ("c.csv", "b.csv", "c.csv.gz"))
        write_repeated(clean, args.rows)
        with_line_breaks(clean, broken)
        packed.write_bytes(gzip.compress(clean.read_bytes(), compresslevel=6))
        ids = ids_of(clean)
        runs: dict[str, tuple[Callable[[], int], int]] = {
            "csv.reader (reference)": (lambda: bare_csv(clean), args.rows),
            "Python reader": (lambda: python_reader(clean), args.rows),
            "Python reader, 1 row in 1,000 with a line break": (
                lambda: python_reader(broken),
                args.rows,
            ),
            "columnar reader": (lambda: columnar_reader(clean), args.rows),
            "columnar reader, 1 row in 1,000 with a line break": (
                lambda: columnar_reader(broken),
                args.rows,
            ),
            "columnar reader, gzip": (lambda: columnar_reader(packed), args.rows),
            "set of ids (reference)": (lambda: python_set(ids), 0),
            "duplicate-id check": (lambda: seen_ids(ids), 0),
        }
        for run, expected in runs.values():  # warm-up; and every reader reads every row
            assert run() == expected
        seconds: dict[str, list[float]] = {label: [] for label in runs}
        for _ in range(args.repeats):
            for label, (run, _) in runs.items():
                start = cpu_seconds()
                run()
                seconds[label].append(cpu_seconds() - start)
    median = {label: statistics.median(values) for label, values in seconds.items()}
    print(f"FEBRL 4 x{args.rows:,} rows, one core, median CPU of {args.repeats}:")
    for label, value in median.items():
        reference = "set of ids (reference)" if "id" in label else "csv.reader (reference)"
        ratio = median[reference] / value
        print(
            f"  {label:<52} {args.rows / value:>12,.0f} rows/s  "
            f"({ratio:.2f}x the speed of {reference.split(' (')[0]})"
        )
    return median


if __name__ == "__main__":
    main()
