"""Every benchmarks/*.py keeps working: its ``--quick`` path runs on every suite run.

Benchmarks live outside the suite (STYLE.md habit 10), so this one parametrised test
smoke-runs each script, including any new one, in a subprocess with the suite's
interpreter, and checks what its output promises. Timings are not checked (tests check
correctness; the figures belong to benchmarks/README.md). The main environment lacks
clkhash and anonlink, so this also proves the scripts degrade gracefully without them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import hashmatch

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(p.name for p in (REPO / "benchmarks").glob("*.py"))


def _check_kernel(stdout: str, _json: Path) -> None:
    lines = stdout.splitlines()
    assert any("Mcmp/s" in line for line in lines)
    rows = [line for line in lines if "hashmatch 1 thr" in line]
    assert len(rows) == 9  # 2 datasets x 4 cases + dense


def _check_encode(stdout: str, figures: Path) -> None:
    results = json.loads(figures.read_text(encoding="utf-8"))
    assert results["hashmatch_repeated_rps"] > 100
    assert results["memory_rows"] == 5000
    assert 10 * 2**20 < results["peak_rss_bytes"] < 2**30
    assert "records/CPU-second" in stdout


def _check_encode_workers(stdout: str, figures: Path) -> None:
    results = json.loads(figures.read_text(encoding="utf-8"))
    assert results["identical_outputs"] is True  # workers 1 and 2 wrote the same bytes
    assert results["rows"] > 400 and results["workers_speedup"] > 0
    assert "--workers 2 vs 1" in stdout


def _check_hardening(stdout: str, figures: Path) -> None:
    assert "| recommended |" in stdout and "| none |" in stdout
    rows = json.loads(figures.read_text(encoding="utf-8"))
    assert {row["profile"] for row in rows} >= {"none", "recommended"}
    assert all(0.5 < row["f1"] <= 1.0 for row in rows), rows


def _check_proposals(stdout: str, _json: Path) -> None:
    rows = [line.split("|") for line in stdout.splitlines() if line.startswith("| quick")]
    assert len(rows) == 1, stdout
    hand, proposed = float(rows[0][2]), float(rows[0][3])
    assert hand > 0.8 and proposed > 0.8, stdout  # both schemas link the quick set


def _check_blocking(stdout: str, _json: Path) -> None:
    assert "planted kept" in stdout


def _check_link(stdout: str, _json: Path) -> None:
    """One JSON line per size; the planted links must be found."""
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert rows, stdout
    for row in rows:
        assert row["precision"] >= 0.99 and row["recall"] >= 0.99, row


def _check_coordinator(stdout: str, _json: Path) -> None:
    row = json.loads(next(line for line in stdout.splitlines() if line.startswith("{")))
    assert row["parties"] == 4 and row["this_wall_s"] > 0 and row["this_peak_rss_mib"] > 0
    assert row["this_stages_s"]["compare"] >= 0


def _check_dask_engine(stdout: str, _json: Path) -> None:
    row = json.loads(next(line for line in stdout.splitlines() if line.startswith("{")))
    assert row["identical"] is True and row["records"] == 10_000, row
    assert row["overhead_ratio"] > 0


def _check_serve(stdout: str, _json: Path) -> None:
    row = json.loads(next(line for line in stdout.splitlines() if line.startswith("{")))
    assert row["records"] > 0 and row["requests_per_s"] > 0
    assert 0 < row["server_p50_ms"] <= row["server_p99_ms"]
    # sent with their row token, stored records come back with their own entity
    assert row["stored_same_share"] == 1.0 and row["stored_no_token_wrong"] == 0, row
    assert row["newcomers"] > 0 and row["newcomers_new"] > 0, row


def _check_serve_stack(stdout: str, _json: Path) -> None:
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert [(r["http"], r["loop"]) for r in rows] == [
        ("h11", "asyncio"), ("httptools", "asyncio"), ("httptools", "uvloop")]
    assert all(r["server_cpu_ms_per_request"] > 0 and r["requests_per_s"] > 0 for r in rows)
    assert rows[0]["cpu_vs_h11_asyncio"] == 1.0


def _check_scoring(stdout: str, figures: Path) -> None:
    """Both scorings ran on every quick set; fs reports its label-free estimate."""
    rows = json.loads(figures.read_text(encoding="utf-8"))
    assert {(r["set"], r["scoring"]) for r in rows} == {
        (s, k) for s in ("synth:600", "dedup:600") for k in ("fs", "dice")
    }
    assert all(0.5 < r["f1"] <= 1.0 for r in rows), rows
    assert all("estimated" in r for r in rows if r["scoring"] == "fs")
    assert "twins apart" in stdout


def _check_lookalikes(stdout: str, figures: Path) -> None:
    row = json.loads(figures.read_text(encoding="utf-8"))
    assert row["pairs"] > 0 and "look-alike pairs" in stdout
    assert row["twins_listed"] <= row["twins_kept_apart"] <= row["twin_pairs"]
    assert row["one_person"] <= row["pairs"] and row["stage_s"] is not None


#: Script -> (extra arguments, check of its stdout and of the JSON figures it wrote).
#: ``{json}`` in an argument is replaced by a temporary path.
SCRIPTS: dict[str, tuple[list[str], Callable[[str, Path], None]]] = {
    "blocking.py": ([], _check_blocking),
    "coordinator.py": ([], _check_coordinator),
    "dask_engine.py": ([], _check_dask_engine),
    "encode.py": (["--json", "{json}"], _check_encode),
    "encode_workers.py": (["--json", "{json}"], _check_encode_workers),
    "hardening.py": (
        ["--data", str(REPO / "tests" / "data" / "febrl4"), "--json", "{json}"],
        _check_hardening,
    ),
    "kernel.py": (["--no-anonlink"], _check_kernel),
    "link.py": ([], _check_link),
    "lookalikes.py": (["--json", "{json}"], _check_lookalikes),
    "proposals.py": ([], _check_proposals),
    "scoring.py": (["--json", "{json}"], _check_scoring),
    "serve.py": ([], _check_serve),
    "serve_stack.py": ([], _check_serve_stack),
}


def test_every_check_names_a_benchmark() -> None:
    assert BENCHMARKS, "no benchmarks found"
    stale = sorted(set(SCRIPTS) - set(BENCHMARKS))
    assert not stale, f"{stale} are gone: drop them from SCRIPTS"


@pytest.mark.slow
@pytest.mark.parametrize("script", BENCHMARKS)
def test_quick_path_runs(script: str, tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    args, check = SCRIPTS.get(script, ([], None))
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / script),
            "--quick",
            *(arg.replace("{json}", str(figures)) for arg in args),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{script} --quick failed:\n{result.stderr}"
    assert result.stdout.strip(), f"{script} --quick printed nothing"
    if check is not None:
        check(result.stdout, figures)


@pytest.mark.slow
def test_kernel_benchmark_runs_a_baseline_build_side_by_side() -> None:
    """``kernel.py --baseline SRC`` (this build as its own baseline: same hits). The
    baseline is the folder of the package under test, which holds its compiled modules
    (src/ only when built in place; site-packages after ``pip install .``)."""
    this_build = Path(hashmatch.__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "kernel.py"), "--quick", "--no-anonlink",
         "--baseline", str(this_build)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "hashmatch 1 thr" in line]
    assert len(rows) == 9 and all("x base" in row for row in rows)
