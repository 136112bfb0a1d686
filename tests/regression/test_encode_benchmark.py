"""The encode benchmark's --quick path runs and reports sane figures (a smoke test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "benchmarks" / "encode.py"


def test_quick_benchmark_runs(capsys) -> None:
    spec = importlib.util.spec_from_file_location("bench_encode", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_encode"] = module
    spec.loader.exec_module(module)
    results = module.main(["--quick"])
    assert results["hashmatch_repeated_rps"] > 100
    assert results["memory_rows"] == 5000
    assert 10 * 2**20 < results["peak_rss_bytes"] < 2**30
    assert "records/CPU-second" in capsys.readouterr().out
