"""The coordinator on realistic data: ``hashmatch link --dedup`` of synth's four parties,
this build against a baseline build, side by side.

The parties come from ``hashmatch synth`` (names, dates, addresses, phones, e-mails with
typos, nicknames, swapped names, within-party duplicates and twins), encoded with the real
encoder: the link sees the block sizes, token evidence and score distributions of real
use, which the random CLKs of ``benchmarks/link.py`` do not have. Each link runs as the
real CLI in a fresh process (``python -m hashmatch link P1.hme ... -o RESULTS --dedup``);
we record wall seconds, CPU seconds (user + system) and peak resident memory of that
process, check whether both builds wrote the same entities (entities.csv equal but for
the run id column) and score each build's entities against synth's truth (pairwise F1,
precision, recall): where the scoring has changed since the baseline, "the same
entities, or better" is read from those.

    python benchmarks/coordinator.py --quick                 # 2,000 people (seconds)
    python benchmarks/coordinator.py --synth DIR --enc ENC --baseline /work/base/src
    python benchmarks/coordinator.py --entities 50000 --baseline ../base/src --repeats 2

``--synth DIR`` is a ``hashmatch synth`` folder; its parties are encoded into ``--enc``
(kept and reused when the ``.hme`` files are already there) with a secret made there.
Without ``--synth`` the data is synthesised in a temporary folder (``--entities``).
Builds run in turns (base, this, base, this, ...), so a shared machine's load hits both
alike; the best wall and CPU seconds of each and their ratios are printed, one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hashmatch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from link import MEASURED_CLI  # noqa: E402  (benchmarks/link.py)

#: Where this build's package is imported from: the checkout's src/ in a development
#: install, site-packages in an installed one (where src/ has no compiled modules).
THIS_SRC = str(Path(hashmatch.__file__).resolve().parents[1])


def _env(src: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return env


def _cli(args: list[str], src: str = THIS_SRC) -> None:
    proc = subprocess.run([sys.executable, "-m", "hashmatch", *args], capture_output=True,
                          text=True, env=_env(src), check=False)
    if proc.returncode:
        sys.exit(f"hashmatch {args[0]} failed:\n{proc.stderr}")


def encode_parties(data: Path, enc: Path) -> list[Path]:
    """Encode every party of a synth folder into ``enc`` (reusing files already there)."""
    enc.mkdir(parents=True, exist_ok=True)
    parties = sorted(p.name.removesuffix(".mapping.toml") for p in data.glob("*.mapping.toml"))
    secret = enc / "linkage.secret"
    if not secret.exists():
        _cli(["keygen", "-o", str(secret)])
    files = []
    for party in parties:
        out = enc / f"{party}.hme"
        if not out.exists():
            _cli(["encode", str(data / f"{party}.csv"), "--schema", str(data / "schema.toml"),
                  "--secret", str(secret), "--party", party, "-o", str(out),
                  "--mapping", str(data / f"{party}.mapping.toml"),
                  "--lookup", str(enc / f"{party}.lookup")])
        files.append(out)
    return files


def link(files: list[Path], out: Path, src: str, scoring: str) -> dict[str, float]:
    """One measured link: wall and CPU seconds, peak RSS in MiB."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, "link", *map(str, files), "-o", str(out),
         "--dedup", "--force", "--scoring", scoring],
        capture_output=True, text=True, check=False, env=_env(src),
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"link failed ({src}):\n{proc.stderr}")
    cpu, peak = proc.stderr.strip().splitlines()[-2:]
    return {"wall": wall, "cpu": float(cpu), "rss_mib": int(peak) / 1024}


def entities(out: Path) -> list[tuple[str, ...]]:
    """entities.csv without its run id column, sorted."""
    with (out / "entities.csv").open(newline="") as fh:
        rows = [tuple(r[k] for k in ("entity_id", "party", "row_token"))
                for r in csv.DictReader(fh)]
    return sorted(rows)


def quality(out: Path, truth: Path, lookups: list[Path]) -> dict[str, float]:
    """Pairwise F1, precision and recall of a results folder against synth's truth (this
    build's evaluator reads both builds' folders: entities.csv has not changed)."""
    from hashmatch.evaluate import evaluate

    report = evaluate(out, truth, lookups)
    return {k: round(getattr(report, k), 4) for k in ("f1", "precision", "recall")}


def compare(files: list[Path], work: Path, baseline: str | None, repeats: int,
            scoring: str, truth: Path | None = None) -> dict[str, object]:
    builds = [("this", THIS_SRC)] if baseline is None else [("baseline", baseline),
                                                           ("this", THIS_SRC)]
    best: dict[str, dict[str, float]] = {}
    for _ in range(repeats):
        for who, src in builds:
            got = link(files, work / f"RESULTS-{who}", src, scoring)
            prev = best.setdefault(who, got)
            best[who] = {k: min(prev[k], got[k]) for k in got}
    timings = json.loads((work / "RESULTS-this" / "report.json").read_text())
    result: dict[str, object] = {
        "parties": len(files), "scoring": scoring, "repeats": repeats,
        "this_wall_s": round(best["this"]["wall"], 2),
        "this_cpu_s": round(best["this"]["cpu"], 2),
        "this_peak_rss_mib": round(best["this"]["rss_mib"]),
        "this_stages_s": {k: round(v, 2) for k, v in timings.get("timings_seconds", {}).items()},
    }
    if baseline is not None:
        b, t = best["baseline"], best["this"]
        result.update({
            "baseline_wall_s": round(b["wall"], 2), "baseline_cpu_s": round(b["cpu"], 2),
            "baseline_peak_rss_mib": round(b["rss_mib"]),
            "speedup_wall": round(b["wall"] / t["wall"], 2),
            "speedup_cpu": round(b["cpu"] / t["cpu"], 2),
            "same_entities": entities(work / "RESULTS-baseline")
            == entities(work / "RESULTS-this"),
        })
    if truth is not None and truth.exists():  # "same entities, or better": against the truth
        lookups = [f.with_suffix(".lookup") for f in files]
        for who, _ in builds:
            result[f"{who}_quality"] = quality(work / f"RESULTS-{who}", truth, lookups)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 people (smoke test)")
    parser.add_argument("--synth", type=Path, metavar="DIR", help="a hashmatch synth folder")
    parser.add_argument("--enc", type=Path, metavar="DIR",
                        help="where its encodings are (or are written)")
    parser.add_argument("--entities", type=int, default=20_000,
                        help="people to synthesise without --synth")
    parser.add_argument("--baseline", metavar="SRC", help="another build's src folder")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each build")
    parser.add_argument("--scoring", choices=["dice", "fs"], default="dice")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hm-coordinator-") as tmp:
        work = Path(tmp)
        data = args.synth
        if data is None:
            data = work / "synth"
            people = 2000 if args.quick else args.entities
            _cli(["synth", "-o", str(data), "--entities", str(people), "--seed", "1"])
        files = encode_parties(data, args.enc or work / "enc")
        result = compare(files, work, args.baseline, args.repeats, args.scoring,
                         truth=data / "truth.csv")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
