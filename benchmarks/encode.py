"""Encoding speed on one core, against clkhash, and peak memory at 1M rows.

Measures, on FEBRL 4 (``tests/data/febrl4/dataset4a.csv``) repeated to ``--rows`` rows with
fresh record ids, using ``examples/febrl4/schema.toml``:

* hashmatch ``encode_file`` records per CPU-second: the whole pipeline (CSV read,
  normalise, Bloom + tokens, .hme + lookup + rejects written), pinned to one CPU. CPU
  time (user + system, including child processes) is used rather than wall time so that
  figures stay comparable on a shared machine;
* the same with every name and address made unique per row (``unique`` rows: no value
  repeats, so no memo helps; the worst case for hashmatch's caches);
* clkhash ``generate_clks`` records/second with the FEBRL schema of clkhash's own docs
  (1024-bit CLK; see ``CLKHASH_SCHEMA``), one worker, on pre-split, stripped rows (its
  CSV reading is not timed, which favours clkhash), if clkhash is importable;
* peak resident memory (VmHWM / ``ru_maxrss``) of a fresh process encoding
  ``--memory-rows`` rows.

Each speed figure is the median of ``--repeats`` timed runs (5; on a shared machine a
short run can be slowed by a burst of other work), for hashmatch and clkhash alike, and
the runs interleave (one of each per round), so both see the same machine.

Targets (issue 2): >= 20x clkhash records/second per core; 1M rows under 1 GB peak RSS.

Run (clkhash lives in its own venv, which has hashmatch installed too)::

    /work/bench-venv/bin/python benchmarks/encode.py            # full: 100k rows, 1M memory
    python benchmarks/encode.py --quick                          # smoke test (seconds)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEBRL = ROOT / "tests" / "data" / "febrl4" / "dataset4a.csv"
SCHEMA = ROOT / "examples" / "febrl4" / "schema.toml"
MAPPING = ROOT / "examples" / "febrl4" / "mapping.toml"


def _clk_feature(name: str, fmt: dict, n: int, bits: int, **hashing: object) -> dict:
    comparison = {
        "type": "ngram",
        "n": n,
        **({"positional": True} if n == 1 or name == "state" else {}),
    }
    return {
        "identifier": name,
        "format": fmt,
        "hashing": {"comparison": comparison, "strategy": {"bitsPerFeature": bits}, **hashing},
    }


_STRING, _INTEGER, _SENTINEL = (
    {"type": "string", "encoding": "utf-8"},
    {"type": "integer"},
    {"missingValue": {"sentinel": ""}},
)
#: The FEBRL schema of clkhash's own documentation (docs/_static/febrl_schema_v3_final.json,
#: used by its tutorials), rebuilt here: 1024-bit CLK, bigrams for names and address
#: parts, positional unigrams for numbers, doubleHash for the names as published.
CLKHASH_SCHEMA = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {
            "type": "HKDF",
            "hash": "SHA256",
            "info": "c2NoZW1hX2V4YW1wbGU=",
            "salt": (
                "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA=="
            ),
            "keySize": 64,
        },
    },
    "features": [
        {"identifier": "rec_id", "ignored": True},
        _clk_feature(
            "given_name", {**_STRING, "maxLength": 64}, 2, 200, hash={"type": "doubleHash"}
        ),
        _clk_feature("surname", {**_STRING, "maxLength": 64}, 2, 200, hash={"type": "doubleHash"}),
        _clk_feature("street_number", _INTEGER, 1, 100, **_SENTINEL),
        _clk_feature("address_1", _STRING, 2, 100),
        _clk_feature("address_2", _STRING, 2, 100),
        _clk_feature("suburb", _STRING, 2, 100),
        _clk_feature("postcode", {**_INTEGER, "minimum": 50, "maximum": 9999}, 1, 100),
        _clk_feature("state", _STRING, 2, 100, **_SENTINEL),
        _clk_feature("date_of_birth", _INTEGER, 1, 200, **_SENTINEL),
        {"identifier": "soc_sec_id", "ignored": True},
    ],
}


def pin_one_core() -> None:
    """Run on one CPU, so records/second is per core (Linux; elsewhere a no-op)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def febrl_rows() -> tuple[list[str], list[list[str]]]:
    with FEBRL.open(newline="") as fh:
        header, *rows = list(csv.reader(fh))
    return [h.strip() for h in header], [[c.strip() for c in r] for r in rows]


def _suffix(i: int) -> str:
    out = ""
    while True:
        i, r = divmod(i, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[r]
        if not i:
            return out


def write_repeated(path: Path, n: int, *, unique: bool = False) -> None:
    """FEBRL 4 repeated to ``n`` rows with fresh ids; ``unique`` makes names and addresses
    differ in every row (a letter suffix), so nothing repeats."""
    header, rows = febrl_rows()
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(n):
            r = list(rows[i % len(rows)])
            r[0] = f"rec-{i}"
            if unique:
                s = _suffix(i)
                r[1], r[2], r[4] = r[1] + s, r[2] + s, r[4] + " " + s
            w.writerow(r)


def flush_to_disk() -> None:
    """Write the freshly written input back now (POSIX): else the encoder's fsyncs of its
    outputs pay for it, as system time charged to a timed run (clkhash writes nothing)."""
    if hasattr(os, "sync"):
        os.sync()


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (clkhash hashes in a worker
    process). Unlike wall time it does not grow when other jobs share the machine."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_hashmatch(data: Path, workdir: Path) -> tuple[float, int]:
    """(CPU seconds, rows encoded) of one ``encode_file`` run."""
    from hashmatch.encode import LinkageSecret, encode_file

    start = cpu_seconds()
    summary = encode_file(
        data,
        schema=SCHEMA,
        mapping=MAPPING,
        secret=LinkageSecret(bytes(range(32))),
        party="bench",
        out=workdir / "bench.hme",
        force=True,  # each run replaces the previous run's files
    )
    return cpu_seconds() - start, summary.encoded


def clkhash_runner(n: int) -> Callable[[], float] | None:
    """A function timing one clkhash run over ``n`` FEBRL rows (CPU seconds), or None
    without clkhash. Rows and schema are prepared once, outside the timing."""
    try:
        from clkhash import clk, schema
    except ImportError:
        return None
    _, rows = febrl_rows()
    data = [rows[i % len(rows)] for i in range(n)]
    sch = schema.from_json_dict(CLKHASH_SCHEMA)

    def run() -> float:
        start = cpu_seconds()
        clks = clk.generate_clks(data, sch, "secret", validate=True, max_workers=1)
        seconds = cpu_seconds() - start
        assert len(clks) == n
        return seconds

    return run


_MEMORY_CHILD = """
import sys
sys.path.insert(0, {root!r})
from benchmarks.encode import peak_rss_bytes, pin_one_core, time_hashmatch
from pathlib import Path
pin_one_core()
seconds, rows = time_hashmatch(Path({data!r}), Path({workdir!r}))
print(seconds, rows, peak_rss_bytes())
"""


def peak_rss_bytes() -> int:
    """Peak resident memory of this process. Linux: VmHWM, which (unlike ru_maxrss) does
    not carry over the forking parent's RSS across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_memory(data: Path, workdir: Path) -> tuple[float, int, int]:
    """(seconds, rows, peak RSS in bytes) of a fresh process encoding ``data``."""
    code = _MEMORY_CHILD.format(root=str(ROOT), data=str(data), workdir=str(workdir))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main(argv: list[str] | None = None) -> dict[str, float | int | None]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="rows for the speed runs")
    ap.add_argument("--clkhash-rows", type=int, default=None, help="rows clkhash encodes [--rows]")
    ap.add_argument("--memory-rows", type=int, default=1_000_000, help="rows for peak RSS")
    ap.add_argument(
        "--repeats", type=int, default=5, help="timed runs per figure; the median is shown"
    )
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.clkhash_rows, args.memory_rows, args.repeats = 3_000, 300, 5_000, 1
    args.clkhash_rows = args.clkhash_rows or args.rows
    median = f", median of {args.repeats}" if args.repeats > 1 else ""
    pin_one_core()
    results: dict[str, float | int | None] = {"rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = {label: work / f"{label}.csv" for label in ("repeated", "unique")}
        for label, data in inputs.items():
            write_repeated(data, args.rows, unique=label == "unique")
        flush_to_disk()
        for data in inputs.values():
            time_hashmatch(data, work)  # warm-up: imports, first-use tables
        clkhash = clkhash_runner(args.clkhash_rows)
        # Rounds interleave every measurement, so a burst of load from another job on
        # this shared machine slows all of them alike instead of one figure.
        runs: dict[str, list[float]] = {label: [] for label in (*inputs, "clkhash")}
        rows = 0
        for _ in range(args.repeats):
            for label, data in inputs.items():
                seconds, rows = time_hashmatch(data, work)
                runs[label].append(seconds)
            if clkhash is not None:
                runs["clkhash"].append(clkhash())
        for label in inputs:
            seconds = statistics.median(runs[label])
            results[f"hashmatch_{label}_rps"] = rows / seconds
            print(
                f"hashmatch encode_file, FEBRL 4 x{args.rows:,} ({label} values): "
                f"{rows / seconds:,.0f} records/CPU-second ({seconds:.2f} s{median})"
            )
        if clkhash is None:
            print("clkhash not importable here: run with the venv that has it")
            results["clkhash_rps"] = None
        else:
            clk_seconds = statistics.median(runs["clkhash"])
            clk_rps = args.clkhash_rows / clk_seconds
            results["clkhash_rps"] = clk_rps
            print(
                f"clkhash generate_clks, {args.clkhash_rows:,} FEBRL rows: "
                f"{clk_rps:,.0f} records/CPU-second ({clk_seconds:.2f} s{median}, 1 worker)"
            )
            for label in inputs:
                ratio = results[f"hashmatch_{label}_rps"] / clk_rps  # type: ignore[operator]
                results[f"ratio_{label}"] = ratio
                print(f"  hashmatch / clkhash ({label} values): {ratio:.1f}x (target >= 20x)")
        data = work / "memory.csv"
        write_repeated(data, args.memory_rows)
        flush_to_disk()
        seconds, rows, rss = peak_memory(data, work)
        results.update(memory_rows=rows, memory_seconds=seconds, peak_rss_bytes=rss)
        print(
            f"peak RSS encoding {rows:,} rows: {rss / 2**20:,.0f} MiB "
            f"({seconds:.1f} CPU-s; target < 1024 MiB)"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
