"""A 1% monthly increment into an entity registry vs a full link of the same snapshots.

Synthesises 4 parties (``hashmatch synth``; or takes a synthesised folder, ``--source``),
splits them into month 0 and month 1 (month 1: 1% of each party's records new, 1%
changed, 1% removed; see hashmatch.synth.months), encodes both months with the same row
keys, builds a registry from month 0 (timed, as "first run"), then times side by side,
alternating, the month-1 increment into a copy of that registry and a batch
``link_files`` of the month-1 files. Prints one JSON line per size: wall and CPU seconds
(user + system of this process, all threads) of each, their ratios (the bar: <= 0.10 at
1M records), the increment's stage timings, the registry's size on disk, and pairwise F1
against the truth of both.

    python benchmarks/registry.py                 # 20k and 100k people
    python benchmarks/registry.py --entities 500000 --source /work/data/s500k \
        --keep /tmp/reg500k                       # 1M records; --keep reuses encodings
    python benchmarks/registry.py --quick         # smoke test (a few hundred people)
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey
from hashmatch.evaluate import evaluate_labels
from hashmatch.link import link_files
from hashmatch.registry import record_map, update
from hashmatch.synth import synthesize
from hashmatch.synth.months import split_months


def _encode(root: Path, month: str, secret: LinkageSecret) -> tuple[list[Path], list[Path]]:
    files, lookups = [], []
    folder = root / month
    for mapping in sorted(folder.glob("*.mapping.toml")):
        party = mapping.name.removesuffix(".mapping.toml")
        out = root / f"{party}.{month}.hme"
        encode_file(folder / f"{party}.csv", schema=folder / "schema.toml", secret=secret,
                    party=party, out=out, lookup=root / f"{party}.{month}.lookup",
                    mapping=mapping, row_key=root / f"{party}.rowkey")
        files.append(out)
        lookups.append(root / f"{party}.{month}.lookup")
    return files, lookups


def _f1(labels: dict[tuple[str, str], str], truth: Path) -> float:
    with truth.open(newline="") as fh:
        true = {(r["party"], r["record_id"]): r["entity_id"] for r in csv.DictReader(fh)}
    keys = sorted(k for k in labels if k in true)
    return evaluate_labels([labels[k] for k in keys], [true[k] for k in keys],
                           [k[0] for k in keys]).f1


def _ids(lookups: list[Path]) -> dict[tuple[str, str], str]:
    out = {}
    for lookup in lookups:
        party = lookup.name.split(".")[0]
        with lookup.open(newline="") as fh:
            for row in csv.DictReader(fh):
                out[(party, row["row_token"])] = row["record_id"]
    return out


def _timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    """``call()``, its wall seconds and its CPU seconds (this process, every thread)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _prepare(root: Path, entities: int, source: Path | None
             ) -> tuple[list[Path], list[Path], list[Path]]:
    """Month 0 and month 1 encodings (and month 1's lookups) in ``root``, made once."""
    done = root / "encoded.ok"
    if not done.exists():
        if source is None:
            source = root / "synth"
            synthesize(source, entities=entities, seed=11)
        split_months(source, root, seed=13, held_back=0.01, changed=0.01, removed=0.01)
        secret = LinkageSecret.generate()
        for mapping in (root / "month0").glob("*.mapping.toml"):
            RowKey.generate().write(root / f"{mapping.name.removesuffix('.mapping.toml')}.rowkey")
        _encode(root, "month0", secret)
        _encode(root, "month1", secret)
        done.write_text("")
    month0 = sorted(root.glob("*.month0.hme"))
    month1 = sorted(root.glob("*.month1.hme"))
    return month0, month1, [root / f"{f.name.removesuffix('.hme')}.lookup" for f in month1]


def run(entities: int, repeats: int, source: Path | None = None,
        keep: Path | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="hm-registry-bench-") as tmp:
        root = keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        month0, month1, lookups1 = _prepare(root, entities, source)
        base = root / "base.db"
        first_run = first_cpu = None
        if not base.exists():  # --keep: a registry built before is reused
            made = root / "base.db.part"
            made.unlink(missing_ok=True)
            _, first_run, first_cpu = _timed(lambda: update(str(made), month0))
            made.rename(base)
        incremental, batch = [], []
        last = None
        for k in range(repeats):
            copy = root / f"run{k}.db"
            shutil.copyfile(base, copy)
            for extra in ("-wal", "-shm"):
                Path(f"{copy}{extra}").unlink(missing_ok=True)
            last, wall, cpu = _timed(lambda c=copy: update(str(c), month1))
            incremental.append((wall, cpu))
            shutil.rmtree(root / f"batch{k}", ignore_errors=True)  # --keep: an earlier call's
            _, wall, cpu = _timed(lambda k=k: link_files(month1, root / f"batch{k}"))
            batch.append((wall, cpu))
        assert last is not None
        ids = _ids(lookups1)
        reg_labels = {(p, ids[(p, t.hex())]): e
                      for (p, t), e in record_map(str(root / f"run{repeats - 1}.db")).items()}
        batch_labels = {}
        with (root / f"batch{repeats - 1}" / "entities.csv").open(newline="") as fh:
            for r in csv.DictReader(fh):
                batch_labels[(r["party"], ids[(r["party"], r["row_token"])])] = r["entity_id"]
        truth = root / "month1" / "truth.csv"
        inc, full = min(w for w, _ in incremental), min(w for w, _ in batch)
        inc_cpu, full_cpu = min(c for _, c in incremental), min(c for _, c in batch)
        return {
            "entities": entities,
            "records_month1": sum(sum(c.values()) - c["removed"] for c in last.parties.values()),
            "month1": {p: {k: v for k, v in c.items() if k != "unchanged"}
                       for p, c in last.parties.items()},
            "first_run_s": None if first_run is None else round(first_run, 3),
            "first_run_cpu_s": None if first_cpu is None else round(first_cpu, 3),
            "increment_s": round(inc, 3), "full_link_s": round(full, 3),
            "ratio": round(inc / full, 4),
            "increment_cpu_s": round(inc_cpu, 3), "full_link_cpu_s": round(full_cpu, 3),
            "cpu_ratio": round(inc_cpu / full_cpu, 4),
            "increment_stages_s": {k: round(v, 3) for k, v in last.timings.items()},
            "registry_mb": round(base.stat().st_size / 1e6, 1),
            "f1_incremental": round(_f1(reg_labels, truth), 4),
            "f1_full_link": round(_f1(batch_labels, truth), 4),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny sizes")
    parser.add_argument("--entities", type=int, nargs="*", default=[20_000, 100_000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--source", type=Path, default=None,
                        help="a `hashmatch synth` folder to split into months (one size)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work folder kept between calls: encodings and the month-0 "
                        "registry are made once (one size)")
    args = parser.parse_args()
    sizes = [400] if args.quick else args.entities
    if (args.source or args.keep) and len(sizes) != 1:
        parser.error("--source and --keep take one --entities size")
    for n in sizes:
        sys.stdout.write(json.dumps(run(n, 1 if args.quick else args.repeats, args.source,
                                        args.keep)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
