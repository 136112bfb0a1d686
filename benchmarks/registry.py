"""A 1% monthly increment into an entity registry vs a full link of the same snapshots.

Synthesises 4 parties (``hashmatch synth``), splits them into month 0 and month 1
(month 1: 1% of each party's records new, 1% changed, 1% removed; see
hashmatch.synth.months), encodes both months with the same row keys, builds a registry
from month 0 (timed, as "first run"), then times side by side, alternating, the month-1
increment into a copy of that registry and a batch ``link_files`` of the month-1 files.
Prints one JSON line per size: seconds of each, their ratio (the bar: <= 0.10 at 1M
records), the registry's size on disk, and pairwise F1 against the truth of both.

    python benchmarks/registry.py                 # 20k and 100k people
    python benchmarks/registry.py --entities 400000
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
from pathlib import Path

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


def run(entities: int, repeats: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="hm-registry-bench-") as tmp:
        root = Path(tmp)
        synthesize(root / "synth", entities=entities, seed=11)
        split_months(root / "synth", root, seed=13, held_back=0.01, changed=0.01,
                     removed=0.01)
        secret = LinkageSecret.generate()
        for mapping in (root / "month0").glob("*.mapping.toml"):
            RowKey.generate().write(root / f"{mapping.name.removesuffix('.mapping.toml')}.rowkey")
        month0, _ = _encode(root, "month0", secret)
        month1, lookups1 = _encode(root, "month1", secret)
        base = root / "base.db"
        t0 = time.perf_counter()
        first = update(str(base), month0)
        first_run = time.perf_counter() - t0
        rows = sum(v["added"] for v in first.parties.values())
        incremental, batch = [], []
        last = None
        for k in range(repeats):
            copy = root / f"run{k}.db"
            shutil.copyfile(base, copy)
            t0 = time.perf_counter()
            last = update(str(copy), month1)
            incremental.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            link_files(month1, root / f"batch{k}")
            batch.append(time.perf_counter() - t0)
        assert last is not None
        ids = _ids(lookups1)
        reg_labels = {(p, ids[(p, t.hex())]): e
                      for (p, t), e in record_map(str(root / f"run{repeats - 1}.db")).items()}
        batch_labels = {}
        with (root / f"batch{repeats - 1}" / "entities.csv").open(newline="") as fh:
            for r in csv.DictReader(fh):
                batch_labels[(r["party"], ids[(r["party"], r["row_token"])])] = r["entity_id"]
        truth = root / "month1" / "truth.csv"
        inc, full = min(incremental), min(batch)
        return {
            "entities": entities, "records_month0": rows,
            "month1": {p: {k: v for k, v in c.items() if k != "unchanged"}
                       for p, c in last.parties.items()},
            "first_run_s": round(first_run, 3),
            "increment_s": round(inc, 3), "full_link_s": round(full, 3),
            "ratio": round(inc / full, 4),
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
    args = parser.parse_args()
    sizes = [400] if args.quick else args.entities
    for n in sizes:
        sys.stdout.write(json.dumps(run(n, 1 if args.quick else args.repeats)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
