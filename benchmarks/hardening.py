"""What each hardening profile costs in linkage quality, end to end, and what the audit says.

For each data set and each profile, every party's file is encoded by ``hm.encode`` with
the data set's own schema plus that ``hardening`` setting, audited (``audit_clks``: the
file-only checks of ``hashmatch audit``), linked by ``hm.link`` exactly as ``hashmatch
link`` does (blocking, automatic threshold, one-to-one solving, entities) and scored
against the truth by ``hm.evaluate`` (pairwise F1). The cost of a profile is the F1 of
``none`` minus its F1, on the same data with the same secrets, in the same run.

Data sets:

* ``demo``: what ``hashmatch demo`` links (``hashmatch synth``, 3,000 people, seed 7, four
  parties with within-party duplicates, ``--dedup``), with synth's hand-written schema;
* ``synth``: ``hashmatch synth`` with ``--entities`` people (default 10,000), seed 1, the
  same four parties and schema, ``--dedup``;
* ``febrl4``: the two FEBRL 4 files of ``tests/data/febrl4`` with
  ``examples/febrl4/schema.toml`` (5,000 x 5,000, one true partner each).

    python benchmarks/hardening.py                        # every data set and profile
    python benchmarks/hardening.py --datasets demo febrl4 --profiles none recommended
    python benchmarks/hardening.py --secrets 3            # mean over 3 linkage secrets
    python benchmarks/hardening.py --quick                # smoke test (600 people)
    python benchmarks/hardening.py --markdown table.md    # also write the table
    python benchmarks/hardening.py --json rows.json       # and every figure as JSON

The secrets and the parties' row keys are fixed (secret ``s`` is 32 bytes of value ``s``;
BLIP noise is keyed by the row tokens), so a run is reproducible;
F1 moves by a few thousandths from one secret to another (which bits the keyed hashes
pick), hence ``--secrets``. Needs pandas (for ``hm.evaluate``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import hashmatch as hm
from hashmatch.audit.privacy import audit_clks
from hashmatch.encfile import Segment
from hashmatch.encode import LinkageSecret
from hashmatch.encode.keys import RowKey

ROOT = Path(__file__).resolve().parents[1]
FEBRL = ROOT / "tests" / "data" / "febrl4"
FEBRL_EXAMPLE = ROOT / "examples" / "febrl4"

def _noise_on_shared_values(flip: float) -> Callable[[dict[str, Any]], Any]:
    """Recommended plus BLIP on the fields whose values many people share (names, dates),
    as ``hashmatch audit`` proposes it: the data set's own field names."""

    def hardening(schema: dict[str, Any]) -> Any:
        fields = [f["name"] for f in schema["fields"] if f.get("type") in ("name", "date")]
        return {"permute": True, "even": True, "blip": {"flip": flip, "fields": fields}}

    return hardening


#: The profiles measured: name -> the schema's ``hardening`` value, or a function of the
#: data set's schema that gives it.
PROFILES: dict[str, Any] = {
    "none": "none",
    "permute": {"permute": True},
    "even": {"even": True},
    "recommended": "recommended",  # permute + even
    "even+flip 0.03": {"permute": True, "even": True, "blip": {"flip": 0.03}},
    "even+flip 0.045": {"permute": True, "even": True, "blip": {"flip": 0.045}},
    "even+flip 0.06": {"permute": True, "even": True, "blip": {"flip": 0.06}},
    "even+flip 0.025 names, dates": _noise_on_shared_values(0.025),  # schema new: demo
    "even+flip 0.04 names, dates": _noise_on_shared_values(0.04),  # schema new: synth
    "even+flip 0.045 names, dates": _noise_on_shared_values(0.045),
    "even+flip 0.06 names, dates": _noise_on_shared_values(0.06),
    "blip eps=40": {"permute": True, "blip": {"epsilon": 40.0}},
    "balance": {"balance": True},
    "recommended-v1": "recommended-v1",  # balance + permute + BLIP epsilon 25 (0.1)
}
QUICK_PROFILES = ("none", "recommended")


@dataclass(frozen=True)
class Dataset:
    """One linkage task: the parties' inputs, the schema, the truth, dedup or not."""

    name: str
    schema: dict[str, Any]
    parties: dict[str, tuple[Path, Path]]  # party -> (CSV, mapping file)
    truth: Any  # DataFrame party, record_id, entity_id
    dedup: bool


@dataclass(frozen=True)
class Result:
    dataset: str
    profile: str
    f1: float
    precision: float
    recall: float
    threshold: float
    audit: str  # worst verdict over the parties' files
    failing: str  # the risks (and fields) that fail, if any
    seconds: float


def synth_dataset(name: str, folder: Path, entities: int, seed: int) -> Dataset:
    """``hashmatch synth`` data (written once into ``folder``) with its own schema."""
    import pandas as pd

    if not (folder / "truth.csv").is_file():
        hm.synthesize(folder, entities=entities, seed=seed)
    parties = {
        p.name.removesuffix(".mapping.toml"): (
            folder / p.name.replace(".mapping.toml", ".csv"),
            p,
        )
        for p in sorted(folder.glob("*.mapping.toml"))
    }
    schema = tomllib.loads((folder / "schema.toml").read_text(encoding="utf-8"))
    truth = pd.read_csv(folder / "truth.csv", dtype=str, keep_default_na=False)
    return Dataset(name, schema, parties, truth, dedup=True)


def febrl_dataset(folder: Path = FEBRL) -> Dataset:
    """FEBRL 4: ``rec-N-org`` in file a is the same person as ``rec-N-dup-0`` in file b."""
    import pandas as pd

    mapping = FEBRL_EXAMPLE / "mapping.toml"
    parties = {p: (folder / f"dataset4{p}.csv", mapping) for p in "ab"}
    rows = []
    for party, (csv, _) in parties.items():
        ids = pd.read_csv(csv, dtype=str, skipinitialspace=True)["rec_id"].str.strip()
        rows += [(party, rid, rid.split("-")[1]) for rid in ids]
    truth = pd.DataFrame(rows, columns=["party", "record_id", "entity_id"])
    schema = tomllib.loads((FEBRL_EXAMPLE / "schema.toml").read_text(encoding="utf-8"))
    return Dataset("febrl4", schema, parties, truth, dedup=False)


def measure(data: Dataset, profile: str, hardening: Any, secrets: Sequence[int]) -> Result:
    """Encode, audit, link and evaluate ``data`` under one profile (mean over secrets)."""
    begin = time.perf_counter()
    schema = copy.deepcopy(data.schema)
    schema["hardening"] = hardening(schema) if callable(hardening) else hardening
    f1, precision, recall, threshold = [], [], [], []
    verdicts: list[str] = []
    failing: set[str] = set()
    for s in secrets:
        secret = LinkageSecret(bytes([s]) * 32)
        batches = [  # fixed row keys: BLIP noise is keyed by the row tokens
            hm.encode(csv, schema=schema, secret=secret, party=party, mapping=mapping,
                      row_key=RowKey(bytes([s, k]) * 16))
            for k, (party, (csv, mapping)) in enumerate(data.parties.items())
        ]
        for batch in batches:
            segments = [Segment(x.field, x.start, x.bits) for x in batch.schema.segments]
            report = audit_clks(np.asarray(batch.clks), segments)
            verdicts.append(report.verdict)
            failing |= {
                f"{x.risk} ({x.worst_field})" for x in report.findings if x.verdict == "fail"
            }
        result = hm.link(batches, dedup=data.dedup)
        scores = hm.evaluate(result.to_pandas(), data.truth)
        f1.append(scores.f1)
        precision.append(scores.precision)
        recall.append(scores.recall)
        threshold.append(result.threshold.value)
    worst = max(verdicts, key=["ok", "warn", "fail"].index)
    return Result(
        data.name,
        profile,
        float(np.mean(f1)),
        float(np.mean(precision)),
        float(np.mean(recall)),
        float(np.mean(threshold)),
        worst,
        ", ".join(sorted(failing)),
        time.perf_counter() - begin,
    )


def markdown(results: Sequence[Result], datasets: Sequence[str]) -> str:
    """One row per profile: per data set F1, its cost against ``none``, the audit verdict."""
    by = {(r.dataset, r.profile): r for r in results}
    profiles = list(dict.fromkeys(r.profile for r in results))
    head = "| profile | " + " | ".join(
        f"{d} F1 | {d} cost | {d} audit" for d in datasets
    ) + " |\n|---|" + "---:|---:|---|" * len(datasets) + "\n"
    lines = []
    for p in profiles:
        cells = []
        for d in datasets:
            r, base = by.get((d, p)), by.get((d, "none"))
            if r is None:
                cells += ["", "", ""]
                continue
            cost = f"{base.f1 - r.f1:+.4f}" if base is not None else ""
            cells += [f"{r.f1:.4f}", cost, r.audit]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    fails = sorted({f"{r.dataset}/{r.profile}: {r.failing}" for r in results if r.failing})
    notes = "".join(f"\n- {f}" for f in fails)
    return head + "\n".join(lines) + ("\n\nAudit failures:" + notes if notes else "") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", choices=("demo", "synth", "febrl4"),
                    default=["demo", "synth", "febrl4"])
    ap.add_argument("--profiles", nargs="+", choices=list(PROFILES), default=list(PROFILES))
    ap.add_argument("--entities", type=int, default=10_000, help="People in the synth set.")
    ap.add_argument("--secrets", type=int, default=1, help="Linkage secrets to average over.")
    ap.add_argument("--data", type=Path, default=FEBRL, help="Folder with the FEBRL 4 files.")
    ap.add_argument("--synth-dir", type=Path, help="Folder to keep the synthetic data in.")
    ap.add_argument("--quick", action="store_true", help="600 people, none vs recommended.")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path, help="Also write every result as JSON.")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hashmatch-hardening-") as tmp:
        folder = args.synth_dir or Path(tmp)
        loaders: dict[str, Callable[[], Dataset]] = {
            "demo": lambda: synth_dataset("demo", folder / "demo", 3000, 7),
            "synth": lambda: synth_dataset(
                "synth", folder / f"synth-{args.entities}", args.entities, 1
            ),
            "febrl4": lambda: febrl_dataset(args.data),
        }
        datasets, profiles = args.datasets, args.profiles
        if args.quick:
            loaders["demo"] = lambda: synth_dataset("demo", folder / "quick", 600, 7)
            datasets, profiles = ["demo"], list(QUICK_PROFILES)
        results = []
        for name in datasets:
            data = loaders[name]()
            for profile in profiles:
                r = measure(data, profile, PROFILES[profile], range(1, args.secrets + 1))
                results.append(r)
                print(
                    f"{r.dataset:7s} {r.profile:22s} F1 {r.f1:.4f} (P {r.precision:.4f} "
                    f"R {r.recall:.4f}, threshold {r.threshold:.3f}) audit {r.audit} "
                    f"[{r.seconds:.0f} s]",
                    file=sys.stderr,
                    flush=True,
                )
    table = markdown(results, datasets)
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.json:
        rows = [dataclasses.asdict(r) for r in results]
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
