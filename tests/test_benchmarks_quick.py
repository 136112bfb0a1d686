"""Every benchmarks/*.py keeps working: its ``--quick`` path runs on every suite run.

Benchmarks live outside the suite (STYLE.md habit 10), so each one must be smoke-run by
some test. Scripts with a dedicated test elsewhere are listed in ``COVERED_ELSEWHERE``
(and we check that test still runs them); every other script, including any new one, is
run here in a subprocess with the suite's interpreter. The main environment lacks
clkhash and anonlink, so this also proves the scripts degrade gracefully without them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(p.name for p in (REPO / "benchmarks").glob("*.py"))

#: Script -> the test that already runs its --quick path.
COVERED_ELSEWHERE = {
    "blocking.py": "tests/unit/link/test_blocking.py",
    "encode.py": "tests/regression/test_encode_benchmark.py",
    "hardening.py": "tests/unit/encode/test_harden.py",
    "kernel.py": "tests/unit/test_benchmarks_smoke.py",
}


def _check_link(stdout: str) -> None:
    """benchmarks/link.py prints one JSON line per size; the planted links must be found."""
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert rows, stdout
    for row in rows:
        assert row["precision"] >= 0.99 and row["recall"] >= 0.99, row


#: Extra output checks for scripts run here (beyond "exits 0 and prints something").
CHECKS = {"link.py": _check_link}


def test_every_benchmark_is_smoke_run_somewhere() -> None:
    assert BENCHMARKS, "no benchmarks found"
    for script, test in COVERED_ELSEWHERE.items():
        text = (REPO / test).read_text(encoding="utf-8")
        assert script in BENCHMARKS, f"{script} is gone: drop it from COVERED_ELSEWHERE"
        assert f'"{script}"' in text and '"--quick"' in text, f"{test} no longer runs {script}"


@pytest.mark.slow
@pytest.mark.parametrize("script", [name for name in BENCHMARKS if name not in COVERED_ELSEWHERE])
def test_quick_path_runs(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{script} --quick failed:\n{result.stderr}"
    assert result.stdout.strip(), f"{script} --quick printed nothing"
    CHECKS.get(script, lambda _out: None)(result.stdout)
