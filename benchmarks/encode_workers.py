"""Encoding a CRM-like file of unique rows: per-core speed against a baseline build, and
the speed-up of ``--workers``, with the outputs compared byte for byte.

Each run is a fresh ``python -m hashmatch encode`` process (cold memos, as a user's run),
on a file whose e-mails, phones and addresses rarely repeat: by default the ``crm`` party
of ``hashmatch synth`` (e-mail, phone, address, date of birth...), or ``--data`` with its
``--mapping`` and ``--schema`` (e.g. ``/work/data/s500k/crm.csv``). Runs of

* the baseline build (``--baseline SRC``: a checkout's ``src`` with its compiled modules,
  put first on ``PYTHONPATH``; one process, as it has no ``--workers``),
* this build with ``--workers 1`` and with ``--workers 2`` (or ``--workers N``),

interleave, one of each per round, and each figure is the median of ``--repeats`` rounds.
Per-core speed is rows per CPU-second (user + system of the run and every process under
it: forked workers are reaped by the run, so a pooled run's CPU is all counted where
workers are forked, on Linux), so it stays comparable on a shared machine; the workers'
speed-up is wall time. The load average before and after the runs is printed with them:
on a shared machine a wall-time ratio means little unless the load stayed near zero.
Every run writes its .hme, lookup and rejects report with one row key and
``SOURCE_DATE_EPOCH``, and all of them must be byte-identical (the baseline's too).

Bars (issue 14): ``--workers 2`` >= 1.7x ``--workers 1`` (wall); unique CRM rows >= 4x
the baseline's rows per CPU-second.

Run::

    python benchmarks/encode_workers.py --baseline /work/base/src \\
        --data /work/data/s500k/crm.csv --mapping /work/data/s500k/crm.mapping.toml \\
        --schema /work/data/s500k/schema.toml
    python benchmarks/encode_workers.py --quick     # smoke test (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = (".hme", ".lookup", ".rejects.csv")


def this_build() -> Path:
    """The folder holding the hashmatch package this interpreter imports."""
    import hashmatch

    return Path(hashmatch.__file__).resolve().parents[1]


def synth_crm(folder: Path, entities: int) -> tuple[Path, Path, Path]:
    from hashmatch.synth import synthesize

    synthesize(folder, entities=entities, seed=1, parties=["crm"])
    return folder / "crm.csv", folder / "crm.mapping.toml", folder / "schema.toml"


def count_rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh) - 1


def encode_run(
    src: Path, args: list[str], out: Path, workers: int | None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the run and its descendants) of one encode process."""
    env = {**os.environ, "PYTHONPATH": str(src), "SOURCE_DATE_EPOCH": "1700000000"}
    command = [sys.executable, "-m", "hashmatch", "encode", *args, "-o", str(out), "--force"]
    if workers is not None:
        command += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"encode failed ({src}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def outputs(out: Path) -> list[bytes]:
    stem = out.with_suffix("")
    return [(stem.with_suffix(suffix) if suffix != ".hme" else out).read_bytes()
            for suffix in OUTPUTS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a CRM-like CSV file (default: synth crm)")
    parser.add_argument("--mapping", type=Path)
    parser.add_argument("--schema", type=Path)
    parser.add_argument("--entities", type=int, default=150_000, help="synth people")
    parser.add_argument("--baseline", type=Path, help="src folder of the build to compare")
    parser.add_argument(
        "--no-baseline", action="store_true", help="only this build's worker counts"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    opts = parser.parse_args()
    if opts.quick:
        opts.entities, opts.repeats, opts.chunk_rows = 1_200, 1, 200
    baseline = opts.baseline
    if opts.no_baseline:
        baseline = None
    elif baseline is None and not opts.quick and Path("/work/base/src").is_dir():
        baseline = Path("/work/base/src")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if opts.data is None:
            data, mapping, schema = synth_crm(folder / "synth", opts.entities)
        else:
            data, mapping, schema = opts.data, opts.mapping, opts.schema
            if mapping is None or schema is None:
                sys.exit("--data needs --mapping and --schema")
        rows = count_rows(data)
        secret = folder / "linkage.secret"
        row_key = folder / "party.rowkey"
        from hashmatch.encode.keys import LinkageSecret, RowKey

        LinkageSecret.generate().write(secret)
        RowKey.generate().write(row_key)
        common = [
            str(data), "--schema", str(schema), "--secret", str(secret), "--party", "crm",
            "--mapping", str(mapping), "--row-key", str(row_key),
            "--chunk-rows", str(opts.chunk_rows),
        ]
        runs: dict[str, tuple[Path, int | None]] = {"this 1 worker": (this_build(), 1)}
        runs[f"this {opts.workers} workers"] = (this_build(), opts.workers)
        if baseline is not None:
            runs["baseline"] = (baseline, None)
        walls: dict[str, list[float]] = {name: [] for name in runs}
        cpus: dict[str, list[float]] = {name: [] for name in runs}
        written: dict[str, list[bytes]] = {}
        load_before = os.getloadavg()[0]
        for _ in range(opts.repeats):
            for name, (src, workers) in runs.items():
                out = folder / f"{name.replace(' ', '_')}.hme"
                wall, cpu = encode_run(src, common, out, workers)
                walls[name].append(wall)
                cpus[name].append(cpu)
                written[name] = outputs(out)

    load_after = os.getloadavg()[0]
    identical = len({tuple(files) for files in written.values()}) == 1
    print(f"{rows:,} rows of {data.name}; median of {opts.repeats}; chunk {opts.chunk_rows:,}")
    print(f"load average (1 min) {load_before:.2f} before the runs, {load_after:.2f} after")
    print(f"{'run':<18} {'wall s':>8} {'rows/s':>10} {'CPU s':>8} {'rows/CPU-s':>11}")
    figures: dict[str, object] = {
        "rows": rows,
        "identical_outputs": identical,
        "load_average": [load_before, load_after],
    }
    for name in runs:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:<18} {wall:>8.2f} {rows / wall:>10,.0f} {cpu:>8.2f} {rows / cpu:>11,.0f}")
        figures[name] = {"wall_s": wall, "cpu_s": cpu}
    one, many = statistics.median(walls["this 1 worker"]), statistics.median(
        walls[f"this {opts.workers} workers"]
    )
    figures["workers_speedup"] = one / many
    print(f"--workers {opts.workers} vs 1 (wall): {one / many:.2f}x   (bar: >= 1.7x at 2)")
    cpu_one = statistics.median(cpus["this 1 worker"])
    cpu_many = statistics.median(cpus[f"this {opts.workers} workers"])
    figures["workers_cpu_ratio"] = cpu_many / cpu_one
    print(f"--workers {opts.workers} vs 1 (CPU): {cpu_many / cpu_one:.2f}x   (the pool's cost)")
    if "baseline" in runs:
        per_core = statistics.median(cpus["baseline"]) / statistics.median(cpus["this 1 worker"])
        figures["per_core_speedup"] = per_core
        print(f"per core vs baseline (rows/CPU-s): {per_core:.2f}x   (bar: >= 4x)")
    print("outputs byte-identical across runs: " + ("yes" if identical else "NO"))
    if opts.json is not None:
        opts.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
