"""Linkage quality of the two scorings, ``link --scoring fs`` against ``--scoring dice``.

For each data set this synthesises the parties (``hashmatch synth``), encodes them with a
*fixed* linkage secret (the figures depend a little on which bits the keyed hashes pick,
so a fixed secret makes two runs comparable), links them with each scoring (``--dedup``)
and prints, against the synthetic truth: pairwise F1 / precision / recall overall and per
party pair, the twins kept apart, and, for ``fs``, the precision and recall that
``report.json`` estimates without labels beside the true ones. The data sets are those of
issue 12's bars:

* ``demo``: the README demo's data (3,000 people, seed 7, 4 parties);
* ``synth:N``: ``hashmatch synth --entities N --seed 1`` (4 parties, duplicates);
* ``dedup:N``: one party (crm) with 5% within-party duplicates, deduplicated alone,
  over ``--secrets`` secrets (the bar: P and R >= 0.99, F1 spread <= 0.003);
* ``febrl``: FEBRL 4 with the example schema (``tests/data/febrl4``);
* ``dir:DIR``: encodings made elsewhere (``DIR/enc/*.hme`` and ``*.lookup``,
  ``DIR/truth.csv``, ``DIR/twins.csv``), e.g. the 500,000 people of
  ``hashmatch synth --entities 500000 --seed 1``, only read.

    python benchmarks/scoring.py                      # demo, synth:10000, dedup:5000, febrl
    python benchmarks/scoring.py --sets synth:10000 --scorings fs --pairs
    python benchmarks/scoring.py --quick              # small sets, seconds
    python benchmarks/scoring.py --work /tmp/enc      # keep encodings between runs

One JSON line per data set and scoring follows the table (``--json`` writes them all).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hashmatch.demo import twins_kept_apart
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.evaluate import evaluate
from hashmatch.link import link_files
from hashmatch.synth import synthesize
from hashmatch.synth.corrupt import CorruptionRates

ROOT = Path(__file__).resolve().parents[1]

FEBRL = ROOT / "tests" / "data" / "febrl4"
FEBRL_SCHEMA = ROOT / "examples" / "febrl4"
DEFAULT_SETS = ("demo", "synth:10000", "dedup:5000", "febrl")
QUICK_SETS = ("synth:600", "dedup:600")


def fixed_secret(number: int) -> LinkageSecret:
    """Benchmark-only secret number ``number`` (deterministic, never for real data)."""
    return LinkageSecret(hashlib.sha256(f"hashmatch-bench-{number}".encode()).digest())


def prepare_synth(folder: Path, entities: int, seed: int, secret: int, *,
                  parties: tuple[str, ...] | None = None, duplicate: float | None = None,
                  ) -> dict[str, Any]:
    """Synthesise and encode into ``folder`` (reused when already there)."""
    done = folder / "encoded.json"
    if done.exists():
        return dict(json.loads(done.read_text(encoding="utf-8")))
    rates = CorruptionRates(duplicate=duplicate) if duplicate is not None else None
    kwargs: dict[str, Any] = {"parties": parties} if parties else {}
    data = synthesize(folder / "parties", entities=entities, seed=seed, rates=rates,
                      force=True, **kwargs)
    secret_path = folder / "linkage.secret"
    fixed_secret(secret).write(secret_path, force=True)
    hme, lookups = [], []
    for name, files in data.parties.items():
        encode_file(files.csv, schema=data.schema, secret=secret_path, party=name,
                    mapping=files.mapping, out=folder / f"{name}.hme",
                    lookup=folder / f"{name}.lookup", rejects=folder / f"{name}.rejects.csv")
        hme.append(str(folder / f"{name}.hme"))
        lookups.append(str(folder / f"{name}.lookup"))
    info = {"hme": hme, "lookups": lookups, "truth": str(data.truth),
            "twins": str(data.twins_file)}
    done.write_text(json.dumps(info), encoding="utf-8")
    return info


def prepare_febrl(folder: Path) -> dict[str, Any]:
    """FEBRL 4 encoded with the secret of tests/regression/test_febrl_quality.py."""
    done = folder / "encoded.json"
    if done.exists():
        return dict(json.loads(done.read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    secret_path = folder / "linkage.secret"
    LinkageSecret(bytes([1]) * 32).write(secret_path, force=True)
    with open(folder / "truth.csv", "w", newline="") as fh:
        truth = csv.writer(fh)
        truth.writerow(["party", "record_id", "entity_id"])
        for party in "ab":
            source = FEBRL / f"dataset4{party}.csv"
            encode_file(source, schema=FEBRL_SCHEMA / "schema.toml", secret=secret_path,
                        party=party, mapping=FEBRL_SCHEMA / "mapping.toml",
                        out=folder / f"{party}.hme", lookup=folder / f"{party}.lookup",
                        rejects=folder / f"{party}.rejects.csv")
            with open(source, newline="") as src:
                for row in csv.DictReader(src):
                    rec = row["rec_id"]  # rec-N-org / rec-N-dup-0: entity N
                    truth.writerow([party, rec, rec.split("-")[1]])
    info = {"hme": [str(folder / "a.hme"), str(folder / "b.hme")],
            "lookups": [str(folder / "a.lookup"), str(folder / "b.lookup")],
            "truth": str(folder / "truth.csv"), "twins": None}
    done.write_text(json.dumps(info), encoding="utf-8")
    return info


#: ``--threshold`` for fs runs (None: the automatic one).
FS_THRESHOLD: list[float | None] = [None]


def run_link(info: dict[str, Any], out: Path, scoring: str, dedup: bool) -> dict[str, Any]:
    """Link, evaluate against the truth, and gather the figures of one run."""
    clock = time.perf_counter()
    threshold = FS_THRESHOLD[0] if scoring == "fs" else None
    result = link_files(info["hme"], out, dedup=dedup, scoring=scoring, force=True,
                        threshold=threshold)
    seconds = time.perf_counter() - clock
    report = evaluate(out, info["truth"], info["lookups"])
    row: dict[str, Any] = {
        "scoring": scoring, "f1": report.f1, "precision": report.precision,
        "recall": report.recall, "seconds": round(seconds, 2),
        "pairs": {f"{a}~{b}": {"f1": s.f1, "precision": s.precision, "recall": s.recall,
                               "true_pairs": s.true_pairs}
                  for (a, b), s in sorted(report.per_party_pair.items())},
    }
    if info.get("twins"):
        twins = twins_kept_apart(out, Path(info["truth"]), Path(info["twins"]),
                                 [Path(p) for p in info["lookups"]])
        row["twins"] = [twins.kept, twins.pairs]
        row["twins_listed"] = twins.listed
    if result.estimated is not None:
        row["estimated"] = {"precision": result.estimated["precision"],
                            "recall": result.estimated["recall"]}
    return row


def measure(name: str, work: Path, scorings: list[str], secrets: int) -> list[dict[str, Any]]:
    kind, _, size = name.partition(":")
    rows = []
    if kind == "dedup":
        for scoring in scorings:
            runs = []
            for number in range(secrets):
                info = prepare_synth(work / f"{kind}{size}-s{number}", int(size), 3, number,
                                     parties=("crm",), duplicate=0.05)
                runs.append(run_link(info, work / f"{kind}{size}-s{number}" / "results",
                                     scoring, True))
            f1s = [r["f1"] for r in runs]
            best = dict(runs[0])
            best.update(set=name, f1=statistics.mean(f1s), f1_spread=max(f1s) - min(f1s),
                        precision=min(r["precision"] for r in runs),
                        recall=min(r["recall"] for r in runs), secrets=len(runs))
            rows.append(best)
        return rows
    if kind == "dir":  # encodings made elsewhere: DIR/enc/*.hme, *.lookup, DIR/truth.csv
        folder = Path(size)
        hme = sorted(str(p) for p in (folder / "enc").glob("*.hme"))
        info = {"hme": hme, "lookups": [h[: -len(".hme")] + ".lookup" for h in hme],
                "truth": str(folder / "truth.csv"),
                "twins": str(folder / "twins.csv") if (folder / "twins.csv").exists() else None}
        for scoring in scorings:
            row = run_link(info, work / f"dir-{folder.name}" / "results", scoring, True)
            row["set"] = f"dir:{folder.name}"
            rows.append(row)
        return rows
    if kind == "febrl":
        info = prepare_febrl(work / "febrl")
    elif kind == "demo":
        info = prepare_synth(work / "demo", int(size or 3000), 7, 0)
    else:
        info = prepare_synth(work / f"synth{size}", int(size), 1, 0)
    for scoring in scorings:
        row = run_link(info, work / f"{kind}{size}" / "results", scoring, kind != "febrl")
        row["set"] = name
        rows.append(row)
    return rows


def show(row: dict[str, Any], pairs: bool) -> None:
    extra = ""
    if "twins" in row:
        extra += f"  twins apart {row['twins'][0]}/{row['twins'][1]}"
    if "estimated" in row:
        est = row["estimated"]
        extra += (f"  est P {est['precision']:.4f} (err {est['precision'] - row['precision']:+.4f})"
                  f" R {est['recall']:.4f} (err {est['recall'] - row['recall']:+.4f})")
    if "f1_spread" in row:
        extra += f"  F1 spread {row['f1_spread']:.4f} over {row['secrets']} secrets (P/R: min)"
    print(f"| {row['set']:<12} | {row['scoring']:<4} | {row['f1']:.4f} | {row['precision']:.4f}"
          f" | {row['recall']:.4f} | {row['seconds']:>6.1f} |{extra}")
    if pairs:
        for key, s in row["pairs"].items():
            print(f"|   {key:<24} F1 {s['f1']:.4f}  P {s['precision']:.4f}  "
                  f"R {s['recall']:.4f}  true pairs {s['true_pairs']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=None,
                        help="demo, synth:N, dedup:N, febrl (default: the bars' sets)")
    parser.add_argument("--scorings", default="fs,dice")
    parser.add_argument("--secrets", type=int, default=10, help="secrets for dedup sets")
    parser.add_argument("--pairs", action="store_true", help="print F1 per party pair")
    parser.add_argument("--work", type=Path, default=None, help="keep encodings here")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threshold", type=float, default=None,
                        help="probability threshold of fs runs (default: automatic)")
    parser.add_argument("--quick", action="store_true", help="small sets (smoke test)")
    args = parser.parse_args()
    FS_THRESHOLD[0] = args.threshold
    sets = args.sets or (QUICK_SETS if args.quick else DEFAULT_SETS)
    secrets = 2 if args.quick else args.secrets
    scorings = args.scorings.split(",")
    all_rows = []
    with tempfile.TemporaryDirectory(prefix="hashmatch-scoring-") as tmp:
        work = args.work or Path(tmp)
        print("| set          | scor | F1     | P      | R      | link s |")
        for name in sets:
            for row in measure(name, work, scorings, secrets):
                show(row, args.pairs)
                all_rows.append(row)
    for row in all_rows:
        print(json.dumps({k: v for k, v in row.items() if k != "pairs"}))
    if args.json:
        args.json.write_text(json.dumps(all_rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
