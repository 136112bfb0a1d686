"""Benchmark the similarity kernel against the numpy reference and anonlink's C++ kernel.

Measures comparisons per second (rows(A) x rows(B) / seconds, best of a few runs) on
the same inputs in one run:

- FEBRL 4 CLKs made by ``hashmatch encode`` (examples/febrl4 schema and mapping, a fresh
  secret), rows tiled to N x N; when encoding is not possible, random CLKs with the same
  bit density instead (the table says which was used);
- random 1024-bit CLKs with 40% of bits set;

at thresholds 0.5, 0.8, 0.9 and with popcount pruning disabled ("raw", threshold 0.9),
for hashmatch on one thread and on all cores, the numpy reference (on a slice of A,
scaled) and anonlink's ``dice_coefficient_accelerated`` (one thread) when anonlink is
installed. The one- and all-core runs alternate, so a burst of load from another job
affects both; "x 1 thr" is their ratio. Usage:

    python benchmarks/kernel.py               # 20k x 20k, best of 7
    python benchmarks/kernel.py --wait-idle   # on a shared machine: each run waits for idle
    python benchmarks/kernel.py --quick       # small sizes, a few seconds (smoke test)
    python benchmarks/kernel.py --baseline ../main/src   # side by side with another build

``--baseline SRC`` loads the compiled kernel module of the same variant from another
build's ``src`` folder (e.g. a worktree of main built in place) and runs its grid on the
same prepared inputs, interleaved with this build's runs (base, this, base, this, ...), so
a shared machine's load hits both alike; "x base" is this build's rate over the
baseline's, wall-clock and CPU time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from hashmatch import kernel
from hashmatch.kernel import grid
from hashmatch.kernel import reference as kernel_numpy

ROOT = Path(__file__).resolve().parent.parent
FEBRL = ROOT / "tests" / "data" / "febrl4"
EXAMPLE = ROOT / "examples" / "febrl4"
AVX2_ROOFLINE = 320e6  # AND+popcount of cache-resident 1024-bit rows, one thread (issue 3)

try:  # optional: only for comparison
    import bitarray
    from anonlink.similarities import dice_coefficient_accelerated
except ImportError:  # pragma: no cover - depends on the environment
    dice_coefficient_accelerated = None


def febrl_clks() -> tuple[np.ndarray, np.ndarray] | None:
    """Encode both FEBRL 4 files with `hashmatch encode`; None if that is not possible."""
    try:
        from hashmatch.encfile import EncodingFile
    except ImportError:
        return None
    exe = [sys.executable, "-m", "hashmatch"]
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "bench.secret"
        try:
            subprocess.run([*exe, "keygen", "-o", str(secret)], check=True, capture_output=True)
            out = []
            for side in ("a", "b"):
                hme = Path(tmp) / f"{side}.hme"
                subprocess.run(
                    [*exe, "encode", str(FEBRL / f"dataset4{side}.csv"),
                     "--schema", str(EXAMPLE / "schema.toml"), "--secret", str(secret),
                     "--party", side, "-o", str(hme),
                     "--mapping", str(EXAMPLE / "mapping.toml")],
                    check=True, capture_output=True,
                )
                out.append(np.array(EncodingFile.open(hme).clks))
        except (subprocess.CalledProcessError, OSError):
            return None
    return out[0], out[1]


def random_clks(rows: int, bits: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.packbits(rng.random((rows, bits)) < density, axis=1).view(np.uint64)


def tile(clks: np.ndarray, rows: int) -> np.ndarray:
    return np.ascontiguousarray(np.resize(clks, (rows, clks.shape[1])))


def _cpu_ticks() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait


def wait_idle(max_wait: float = 60.0, idle: float = 0.9) -> None:
    """Wait (up to max_wait s) until the machine was at least `idle` idle for 0.5 s.

    On a shared machine this starts each timed run when other jobs are quiet; it does not
    change what is timed. A no-op where /proc/stat does not exist.
    """
    if not os.path.exists("/proc/stat"):
        return
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        total0, idle0 = _cpu_ticks()
        time.sleep(0.5)
        total1, idle1 = _cpu_ticks()
        if idle1 - idle0 >= idle * max(1, total1 - total0):
            return


def best_time(
    fn: Callable[[], int], repeats: int, wait: bool = False
) -> tuple[float, float, int]:
    """Best wall-clock and best process CPU seconds over `repeats` runs, and the hits.

    CPU time is printed too because shared machines make wall-clock noisy; for a
    one-thread engine it is the time the work itself took.
    """
    wall = cpu = float("inf")
    hits = 0
    for _ in range(repeats):
        if wait:
            wait_idle()
        t0, c0 = time.perf_counter(), time.process_time()
        hits = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, hits


def interleaved_best(
    fns: list[Callable[[], int]], repeats: int, wait: bool = False
) -> list[tuple[float, float, int]]:
    """:func:`best_time` of several functions, run in turns (f1, f2, f1, f2, ...).

    Used for the one- and all-core runs, so a burst of load from another job on a shared
    machine hits both alike instead of only one of them, which would skew their ratio.
    """
    best = [(float("inf"), float("inf"), 0)] * len(fns)
    for _ in range(repeats):
        for n, fn in enumerate(fns):
            wall, cpu, hits = best_time(fn, 1, wait)
            best[n] = (min(best[n][0], wall), min(best[n][1], cpu), hits)
    return best


def load_baseline(src: str) -> ModuleType:
    """The compiled kernel module of the active variant from another build's src folder."""
    name = {"avx512": "_core_avx512", "avx2": "_core_avx2", "scalar": "_core"}.get(
        kernel.active_kernel(), "_core")
    path = next(Path(src, "hashmatch", "kernel").glob(f"{name}.*.so"))
    spec = importlib.util.spec_from_file_location(f"hashmatch_baseline.{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def baseline_pairs(impl: ModuleType, a: np.ndarray, b: np.ndarray, threshold: float,
                   threads: int, prune: bool) -> int:
    """:func:`kernel.dice_pairs` with the baseline build's grid (same preparation)."""
    plan = grid.plan(a, b, threshold, "dice", a.shape[1] * 64, prune, impl)
    return int(grid.run(impl, plan, a, 0, 0, threads)[0].size)


def to_bitarrays(clks: np.ndarray) -> list:
    out = []
    for row in clks:
        ba = bitarray.bitarray(endian="big")
        ba.frombytes(row.tobytes())
        out.append(ba)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows of A and of B")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-anonlink", action="store_true", help="skip anonlink")
    parser.add_argument("--baseline", metavar="SRC",
                        help="another build's src folder: run its grid side by side")
    parser.add_argument("--wait-idle", action="store_true",
                        help="start each timed run when the machine is idle (shared machines)")
    args = parser.parse_args(argv)
    rows = 600 if args.quick else args.rows
    repeats = 1 if args.quick else args.repeats
    numpy_rows = 50 if args.quick else 400
    dense_rows = min(rows, 5000)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1

    feb = febrl_clks()
    if feb is not None:
        febrl_name = "febrl4 (hashmatch encode)"
        fa, fb = tile(feb[0], rows), tile(feb[1], rows)
    else:
        febrl_name = "febrl4-like random 31%"
        fa = random_clks(rows, 1024, 0.31, 1)
        fb = random_clks(rows, 1024, 0.31, 2)
    datasets = {
        febrl_name: (fa, fb),
        "random 40%": (random_clks(rows, 1024, 0.4, 3), random_clks(rows, 1024, 0.4, 4)),
    }
    common = [("0.5", 0.5, True), ("0.8", 0.8, True), ("0.9", 0.9, True), ("raw", 0.9, False)]
    # random 40% CLKs at Dice 0.41: about 32% of pairs hit (like anonlink's FEBRL 4 at 0.5)
    cases = {febrl_name: common, "random 40%": [*common, ("dense", 0.41, True)]}
    anonlink_ok = dice_coefficient_accelerated is not None and not args.no_anonlink
    base = load_baseline(args.baseline) if args.baseline else None
    print(f"kernel variant: {kernel.active_kernel()} (available: {kernel.available_kernels()})")
    print(f"grid: {rows} x {rows}, cores: {cores}, best of {repeats}; "
          f"anonlink: {'yes' if anonlink_ok else 'not installed / skipped'}; "
          f"load average: {os.getloadavg()[0]:.1f}"
          f"{'; each run waits for an idle machine' if args.wait_idle else ''}")
    print("Mcmp/s is wall-clock; x anonlink, x numpy and x 1 thr are ratios of it; "
          "Mcmp/cpu-s uses process CPU time (all threads).")
    header = (f"{'dataset':<26} {'case':<6} {'engine':<18} {'hits':>11} "
              f"{'Mcmp/s':>9} {'x anonlink':>10} {'x numpy':>8} {'% AVX2 roof':>11} "
              f"{'Mcmp/cpu-s':>10} {'x 1 thr':>7}")
    print(header)
    print("-" * len(header))
    for dname, (a, b) in datasets.items():
        bits = a.shape[1] * 64
        ba = bb = None
        if anonlink_ok:
            ba, bb = to_bitarrays(a), to_bitarrays(b)
        for case, threshold, prune in cases[dname]:
            if case == "dense":  # ~1/3 of pairs hit: output-bound, on a smaller grid
                a, b, ba, bb = a[:dense_rows], b[:dense_rows], (
                    ba[:dense_rows] if ba else None), (bb[:dense_rows] if bb else None)
            comps = a.shape[0] * b.shape[0]
            results: dict[str, tuple[float, float, int]] = {}
            sub = a[:numpy_rows] if case != "dense" else a[: numpy_rows // 4]
            t_np, c_np, _ = best_time(
                lambda sub=sub, b=b, t=threshold: kernel_numpy.similarity_pairs(sub, b, t)[0].size,
                1, args.wait_idle,
            )
            np_comps = sub.shape[0] * b.shape[0]
            results["numpy reference"] = (np_comps / t_np, np_comps / c_np, -1)
            if anonlink_ok:
                t, c, hits = best_time(
                    lambda t=threshold, x=ba, y=bb: len(dice_coefficient_accelerated([x, y], t)[0]),
                    repeats, args.wait_idle,
                )
                results["anonlink 1 thread"] = (comps / t, comps / c, hits)
            thread_counts = sorted({1, cores})
            runs = [lambda th=threads, t=threshold, p=prune, x=a, y=b: kernel.dice_pairs(
                x, y, t, threads=th, prune=p)[0].size for threads in thread_counts]
            if base is not None:
                runs += [lambda th=threads, t=threshold, p=prune, x=a, y=b: baseline_pairs(
                    base, x, y, t, th, p) for threads in thread_counts]
            timed = interleaved_best(runs, repeats, args.wait_idle)
            for n, (t, c, hits) in enumerate(timed):
                who = "hashmatch" if n < len(thread_counts) else "baseline"
                threads = thread_counts[n % len(thread_counts)]
                results[f"{who} {threads} thr"] = (comps / t, comps / c, hits)
            ref_anon = results.get("anonlink 1 thread", (float("nan"), 0.0, 0))[0]
            ref_np = results["numpy reference"][0]
            ref_one = results["hashmatch 1 thr"][0]
            for engine, (rate, cpu_rate, hits) in results.items():
                roof = 100 * rate / AVX2_ROOFLINE if bits == 1024 else float("nan")
                scale = f"{rate / ref_one:>7.2f}" if engine.startswith("hashmatch") else ""
                twin = results.get(engine.replace("hashmatch", "baseline"))
                versus = ""
                if engine.startswith("hashmatch") and twin is not None:
                    if twin[2] != hits:
                        sys.exit(f"baseline found {twin[2]} hits, this build {hits}")
                    versus = f" x base {rate / twin[0]:.2f} (cpu {cpu_rate / twin[1]:.2f})"
                print(f"{dname:<26} {case:<6} {engine:<18} "
                      f"{hits if hits >= 0 else '-':>11} {rate / 1e6:>9.1f} "
                      f"{rate / ref_anon:>10.2f} {rate / ref_np:>8.1f} {roof:>10.0f}% "
                      f"{cpu_rate / 1e6:>10.1f} {scale}{versus}".rstrip())
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
