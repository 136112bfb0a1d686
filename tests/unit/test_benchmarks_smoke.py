"""Smoke-run the kernel benchmark's --quick path so it cannot silently rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kernel.py"


def test_kernel_benchmark_quick_prints_a_table() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--no-anonlink"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("Mcmp/s" in line for line in lines)
    rows = [line for line in lines if "hashmatch 1 thr" in line]
    assert len(rows) == 9  # 2 datasets x 4 cases + dense
