"""The Dask engine's overhead over the local engine, and that both give the same results.

The same ``.hme`` files are linked in turns by the local engine (this process) and by the
Dask engine on a ``LocalCluster`` of ``--workers`` single-threaded worker processes
(started once, before timing; its start-up is printed apart), each run writing a full
results folder (``link_files``: open and verify, compare, threshold, solve, entities,
outputs). Printed: best wall seconds of each, their ratio dask/local, and whether the two
results folders are identical (every file but the run id and the timings).

Inputs: by default two synthetic parties of ``--records`` / 2 rows each, made with the
generator of ``benchmarks/link.py`` (random 1024-bit CLKs, one blocking token, an e-mail
token); ``--files`` links given encodings instead, e.g. the 4-party synth set::

    python benchmarks/dask_engine.py --quick             # 2 x 5k rows, seconds
    python benchmarks/dask_engine.py                     # 2 x 500k rows (1M records)
    python benchmarks/dask_engine.py --files /work/data/s500k/enc/*.hme --dedup
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from link import generate  # noqa: E402  (benchmarks/link.py)

from hashmatch.link import link_files  # noqa: E402
from hashmatch.link.engines import engine_named  # noqa: E402


def results(folder: Path) -> dict[str, Any]:
    """Every file of a results folder but the drawings, the run id and the timings."""
    report = json.loads((folder / "report.json").read_text())
    out: dict[str, Any] = {}
    for f in sorted(folder.iterdir()):
        if f.suffix in (".png", ".html"):  # drawn from report.json
            continue
        text = f.read_text().replace(report["run_id"], "RUN")
        if f.name == "report.json":
            data = json.loads(text)
            data.pop("timings_seconds")
            out[f.name] = data
        else:
            out[f.name] = text
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 x 5k rows, one round")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", nargs="+", type=Path, help="link these .hme files")
    parser.add_argument("--dedup", action="store_true")
    parser.add_argument("--scoring", default="dice", choices=["dice", "fs"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.records, args.repeats = 10_000, 1

    import distributed

    with tempfile.TemporaryDirectory(prefix="hm-dask-bench-") as tmp:
        work = Path(tmp)
        files = args.files
        if files is None:
            generate(args.records // 2, work)
            files = [work / "a.hme", work / "b.hme"]
        records = sum(_rows(f) for f in files)

        t0 = time.perf_counter()
        cluster = distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, dashboard_address=":0"
        )
        client = distributed.Client(cluster)
        startup = time.perf_counter() - t0
        print(f"LocalCluster of {args.workers} x 1 thread up in {startup:.1f} s; dashboard "
              f"{client.dashboard_link}", file=sys.stderr)
        best = {"local": float("inf"), "dask": float("inf")}
        stages: dict[str, Any] = {}
        try:
            for _ in range(args.repeats):  # in turns: a burst of load hits both alike
                for engine in ("local", "dask"):
                    t0 = time.perf_counter()
                    result = link_files(
                        files, work / engine, dedup=args.dedup, scoring=args.scoring,
                        force=True, engine=engine_named(engine, client if engine == "dask"
                                                        else None),
                    )
                    best[engine] = min(best[engine], time.perf_counter() - t0)
                    stages[engine] = {k: round(v, 2) for k, v in result.timings.items()}
            same = results(work / "local") == results(work / "dask")
        finally:
            client.close()
            cluster.close()
    row = {
        "records": records,
        "parties": len(files),
        "dedup": args.dedup,
        "scoring": args.scoring,
        "workers": args.workers,
        "cluster_start_s": round(startup, 2),
        "local_s": round(best["local"], 2),
        "dask_s": round(best["dask"], 2),
        "overhead_ratio": round(best["dask"] / best["local"], 3),
        "identical": same,
        "stages_s": stages,
    }
    print(f"| {records:,} records | local {row['local_s']} s | dask {row['dask_s']} s | "
          f"dask/local {row['overhead_ratio']} | identical {same} |")
    print(json.dumps(row))
    if not same:
        sys.exit("the two engines' results differ")


def _rows(path: Path) -> int:
    from hashmatch.encfile import EncodingFile

    with EncodingFile.open(path) as f:
        return int(f.header.rows)


if __name__ == "__main__":
    main()
