"""End-to-end time and peak memory of ``hashmatch link`` for two parties at scale.

Encoding a million synthetic people with the real encoder takes many minutes, which would
measure the encoder, not the coordinator. So the two ``.hme`` files are generated here
directly with :class:`hashmatch.encfile.EncodingWriter`: each person gets a random
1024-bit CLK (~25% of bits set, like a typical encoded record), the second party holds
a share of the same people with 12% of their set bits moved elsewhere (Dice ~0.88 for a
true match, ~0.25 for a random pair) plus people of its own, and both carry one keyed
blocking token with realistic block sizes (~2.5 rows per key and side, like
soundex(surname)+birth year) and an e-mail-like exact token for 70% of the rows.

The link itself then runs as the real CLI in a fresh process (``python -m hashmatch
link A.hme B.hme -o RESULTS``: checksum verification, blocking, kernel, scoring,
threshold choice, solving, entities, all outputs) and we record its wall time and peak
resident memory (``ru_maxrss`` of the child), plus pairwise precision and recall of the
resulting entities against the generated truth.

    python benchmarks/link.py            # 2 x 100k and 2 x 1M records
    python benchmarks/link.py --quick    # 2 x 5k, a smoke test (seconds)
    python benchmarks/link.py --sizes 200000
    python benchmarks/link.py --sizes 100000 --repeats 3 --baseline ../main/src
    python benchmarks/link.py --sizes 10000000 --work /scratch/l10m   # files kept, reused

``--baseline SRC`` links the same files with another build (its ``src`` folder on
PYTHONPATH) in turns with this one (base, this, base, this, ...), so a shared machine's
load hits both alike, and prints the best wall-clock and CPU seconds (user + system of the
link process) and the lowest peak RSS of each, and their ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hashmatch.encfile import EncodingWriter

CLK_BITS = 1024
SET_BITS = 256
MOVED = 0.12
SHARED = 0.7  # share of party B's rows that are people of party A
CHUNK = 100_000


def make_party(
    path: Path, party: str, people: npt.NDArray[np.int64], seed: int, corrupt: bool, n_keys: int
) -> None:
    """Write ``people`` (ids) as party ``party``: CLK and tokens are functions of the id."""
    rng_tokens = np.random.default_rng(seed)
    with EncodingWriter(
        path,
        party=party,
        schema_fingerprint="sha256:bench",
        clk_bits=CLK_BITS,
        segments=[("record", 0, CLK_BITS)],
        token_names=["blk", "email"],
        field_names=["record"],
        secret_commitment="be" * 32,  # link refuses files without one
    ) as writer:
        for start in range(0, len(people), CHUNK):
            ids = people[start : start + CHUNK]
            clks = _clks(ids, seed if corrupt else None)
            blk = _token(ids, salt=1, modulo=n_keys)
            email = _token(ids, salt=2)
            email[rng_tokens.random(len(ids)) > 0.7] = 0
            row_tokens = rng_tokens.integers(0, 256, (len(ids), 16), dtype=np.uint8)
            writer.append(
                clks, {"blk": blk, "email": email}, np.ones((len(ids), 1), bool), row_tokens
            )


def _clks(ids: npt.NDArray[np.int64], corrupt_seed: int | None) -> npt.NDArray[np.uint64]:
    """Each person's bits are a function of their id; a corrupted copy moves MOVED of them."""
    k = np.arange(SET_BITS, dtype=np.uint64)
    base = ids.astype(np.uint64)[:, None] * np.uint64(SET_BITS) + k
    pos = _splitmix(base) % np.uint64(CLK_BITS)
    if corrupt_seed is not None:
        noise = _splitmix(base ^ np.uint64(corrupt_seed << 40))
        moved = (noise % np.uint64(1000)) < np.uint64(MOVED * 1000)
        pos = np.where(moved, _splitmix(noise) % np.uint64(CLK_BITS), pos)
    bits = np.zeros((len(ids), CLK_BITS), bool)
    bits[np.arange(len(ids))[:, None], pos.astype(np.int64)] = True
    packed = np.packbits(bits, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


def _token(
    ids: npt.NDArray[np.int64], *, salt: int, modulo: int | None = None
) -> npt.NDArray[np.uint8]:
    """A stand-in for a keyed token: a 16-byte pseudo-random function of (salt, key)."""
    keys = ids % modulo if modulo else ids
    lo = _splitmix(keys.astype(np.uint64) ^ np.uint64(salt << 56))
    hi = _splitmix(lo)
    return np.stack([lo, hi], axis=1).view(np.uint8).reshape(len(ids), 16).copy()


def _splitmix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


#: `hashmatch ARGS...` in this interpreter, then its CPU seconds and peak RSS (KiB) on
#: stderr (benchmarks/coordinator.py runs it too).
MEASURED_CLI = """
import resource, sys
from hashmatch.cli import app
try:
    app(sys.argv[1:], prog_name="hashmatch")
except SystemExit as exc:
    if exc.code:
        raise
usage = resource.getrusage(resource.RUSAGE_SELF)
print(usage.ru_utime + usage.ru_stime, file=sys.stderr)
print(usage.ru_maxrss, file=sys.stderr)
"""


def people(size: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Person ids of party a (0..size-1) and b (SHARED of a's people + its own)."""
    rng = np.random.default_rng(size)
    shared = rng.choice(size, int(size * SHARED), replace=False)
    own = np.arange(size, size + size - len(shared), dtype=np.int64)
    return np.arange(size, dtype=np.int64), rng.permutation(np.concatenate([shared, own]))


def generate(size: int, work: Path) -> None:
    n_keys = max(1, int(size / 2.5))  # ~2.5 rows per blocking key and side
    a_people, b_people = people(size)
    make_party(work / "a.hme", "a", a_people, 1, corrupt=False, n_keys=n_keys)
    make_party(work / "b.hme", "b", b_people, 2, corrupt=True, n_keys=n_keys)


def ensure_files(size: int, work: Path) -> float:
    """Write the two parties of ``size`` records into ``work`` unless a previous run left
    them there (``SIZE`` names the size they were made for); the seconds it took."""
    marker = work / "SIZE"
    if marker.exists() and marker.read_text() == str(size) \
            and (work / "a.hme").exists() and (work / "b.hme").exists():
        return 0.0
    marker.unlink(missing_ok=True)
    # Generate in a child process: a forked child's peak RSS counts the parent's pages
    # until it execs, so a large parent would inflate the link's measured peak.
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--generate", str(size), str(work)], check=True)
    marker.write_text(str(size))
    return time.perf_counter() - t0


def run(size: int, work: Path) -> dict[str, object]:
    generated = ensure_files(size, work)
    a_people, b_people = people(size)

    out = work / "RESULTS"
    wall, cpu, peak = _link(work, out, None)
    report = json.loads((out / "report.json").read_text())
    precision, recall = _quality(out, work, a_people, b_people)
    return {
        "records_per_party": size,
        "generate_s": round(generated, 1),
        "link_wall_s": round(wall, 2),
        "link_cpu_s": round(cpu, 2),
        "peak_rss_mib": round(peak / 1024, 1),
        "candidates": report["party_pairs"][0]["candidates"],
        "reduction_ratio": report["party_pairs"][0]["blocking"]["reduction_ratio"],
        "threshold": report["threshold"]["value"],
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "stages_s": report["timings_seconds"],
    }


def _link(work: Path, out: Path, src: str | None) -> tuple[float, float, int]:
    """Run ``hashmatch link`` on the two files (with ``src`` first on PYTHONPATH if given):
    wall seconds, CPU seconds of the link process, peak RSS in KiB."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, "link", str(work / "a.hme"), str(work / "b.hme"),
         "-o", str(out)],
        capture_output=True, text=True, check=False, env=env,
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(proc.stderr)
    cpu, peak = proc.stderr.strip().splitlines()[-2:]
    return wall, float(cpu), int(peak)


def side_by_side(size: int, work: Path, baseline: str, repeats: int) -> dict[str, object]:
    """Best wall and CPU seconds of linking the same files with the baseline build and this
    one, in turns."""
    ensure_files(size, work)
    this = str(Path(__file__).resolve().parent.parent / "src")
    best = {"baseline": [float("inf")] * 3, "this": [float("inf")] * 3}
    for _ in range(repeats):
        for who, src in (("baseline", baseline), ("this", this)):
            wall, cpu, peak = _link(work, work / f"RESULTS-{who}", src)
            best[who] = [min(x, y) for x, y in zip(best[who], (wall, cpu, peak), strict=True)]
    (bw, bc, bp), (tw, tc, tp) = best["baseline"], best["this"]
    return {"records_per_party": size, "repeats": repeats, "baseline_wall_s": round(bw, 2),
            "this_wall_s": round(tw, 2), "wall_ratio": round(tw / bw, 3),
            "baseline_cpu_s": round(bc, 2), "this_cpu_s": round(tc, 2),
            "cpu_ratio": round(tc / bc, 3), "baseline_peak_rss_mib": round(bp / 1024, 1),
            "this_peak_rss_mib": round(tp / 1024, 1), "peak_ratio": round(tp / bp, 3)}


def _quality(
    out: Path, work: Path, a_people: npt.NDArray[np.int64], b_people: npt.NDArray[np.int64]
) -> tuple[float, float]:
    """Pairwise precision/recall of the a-b links (one-to-one: pairs = shared entities)."""
    from hashmatch.encfile import EncodingFile

    person = {}
    for name, people in (("a", a_people), ("b", b_people)):
        with EncodingFile.open(work / f"{name}.hme", verify=False) as f:
            h = np.ascontiguousarray(f.row_tokens).tobytes().hex()
        person.update({(name, h[32 * k : 32 * k + 32]): int(p) for k, p in enumerate(people)})
    entities: dict[str, list[int]] = {}
    with open(out / "entities.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            entities.setdefault(row["entity_id"], []).append(
                person[(row["party"], row["row_token"])]
            )
    predicted = [m for m in entities.values() if len(m) == 2]
    correct = sum(1 for m in predicted if m[0] == m[1])
    true = len(np.intersect1d(a_people, b_people))
    return correct / max(len(predicted), 1), correct / max(true, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 x 5k records (smoke test)")
    parser.add_argument("--sizes", type=int, nargs="*", help="records per party")
    parser.add_argument("--baseline", metavar="SRC",
                        help="another build's src folder: link the same files with it, in turns")
    parser.add_argument("--repeats", type=int, default=3, help="runs each with --baseline")
    parser.add_argument("--work", metavar="DIR", type=Path,
                        help="keep the generated files (and results) in DIR/SIZE and reuse "
                             "them in later runs (default: a temporary folder)")
    parser.add_argument("--generate", nargs=2, metavar=("SIZE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(int(args.generate[0]), Path(args.generate[1]))
        return
    sizes = [5_000] if args.quick else (args.sizes or [100_000, 1_000_000])
    for size in sizes:
        with contextlib.ExitStack() as stack:
            if args.work is None:
                work = Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="hashmatch-bench-")))
            else:
                work = args.work / str(size)
                work.mkdir(parents=True, exist_ok=True)
            if args.baseline:
                result = side_by_side(size, work, args.baseline, args.repeats)
            else:
                result = run(size, work)
            print(json.dumps(result), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
