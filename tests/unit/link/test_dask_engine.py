"""The Dask engine gives the local engine's results, file for file.

Four synthetic parties (with duplicates and twins) are encoded once; each variant (Dice
and Fellegi-Sunter scoring, with and without dedup) is linked by the local engine and by
the Dask engine on a 2-worker ``LocalCluster``, and the results folders must agree in
everything but the run id and the timings. Then the CLI runs against a real ``dask
scheduler`` with two ``dask worker`` processes on loopback (started and stopped here).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import hashmatch
from hashmatch.cli import app
from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.link import link_encodings, link_files, memory, pipeline
from hashmatch.link.pipeline import SCORE_POOL_CAP, _ScorePool, pool_stride
from hashmatch.synth import synthesize

distributed = pytest.importorskip("distributed")

from hashmatch.link.engines import dask as dask_engine  # noqa: E402
from hashmatch.link.engines.dask import (  # noqa: E402
    DaskEngine,
    DaskEngineError,
    _sees,
    _shareable_path,
    dask_client,
)

#: One worker runs this module: its parties, local links and clusters are made once.
pytestmark = pytest.mark.xdist_group("dask")

PARTIES = ["crm", "callcentre", "catalogue", "partner"]
#: Files of a results folder that must be equal (the picture and the page are drawn
#: from report.json).
COMPARED = ("entities.csv", "pairs.csv", "report.json", *(f"{p}.csv" for p in PARTIES))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("dask")
    data = synthesize(root / "data", entities=300, seed=11, parties=PARTIES)
    secret = LinkageSecret(bytes([7]) * 32)  # fixed, test-only
    paths = []
    for name, files in data.parties.items():
        out = root / f"{name}.hme"
        encode_file(files.csv, schema=data.schema, secret=secret, party=name, out=out,
                    mapping=files.mapping)
        paths.append(out)
    return paths


@pytest.fixture(scope="module")
def local_results(world: list[Path], tmp_path_factory: pytest.TempPathFactory
                  ) -> Callable[[str, bool], Path]:
    """The local engine's results folder of a variant (linked once per module)."""
    root = tmp_path_factory.mktemp("local")
    done: dict[tuple[str, bool], Path] = {}

    def results(scoring: str, dedup: bool) -> Path:
        if (scoring, dedup) not in done:
            out = root / f"{scoring}-{dedup}"
            link_files(world, out, scoring=scoring, dedup=dedup, write_pairs=True)
            done[scoring, dedup] = out
        return done[scoring, dedup]

    return results


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _results(folder: Path) -> dict[str, Any]:
    """The compared files of a results folder, run id and timings taken out."""
    report = json.loads((folder / "report.json").read_text())
    run_id = report["run_id"]
    out: dict[str, Any] = {}
    for name in COMPARED:
        text = (folder / name).read_text().replace(run_id, "RUN")
        if name == "report.json":
            data = json.loads(text)
            data.pop("timings_seconds")
            out[name] = data
        else:
            out[name] = text
    return out


def _assert_same(local: Path, dask: Path) -> None:
    a, b = _results(local), _results(dask)
    for name in COMPARED:
        assert a[name] == b[name], name
    assert a["entities.csv"].count("\n") > 100  # the comparison compared something


@pytest.mark.parametrize(("scoring", "dedup"), [("dice", False), ("dice", True),
                                                ("fs", False), ("fs", True)])
def test_same_results_as_the_local_engine(
    world: list[Path], local_results: Callable[[str, bool], Path], cluster_client: Any,
    tmp_path: Path, scoring: str, dedup: bool,
) -> None:
    result = link_files(world, tmp_path / "dask", scoring=scoring, dedup=dedup,
                        write_pairs=True, engine=DaskEngine(cluster_client))
    _assert_same(local_results(scoring, dedup), tmp_path / "dask")
    assert result.n_entities > 0 and len(result.pairs[0]) > 100


def test_a_memory_budget_chunks_the_tasks_as_locally(
    world: list[Path], cluster_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tasks build their key tables at the budget's chunk size: once the threshold's pool
    subsamples, chunk bounds decide which scores it holds, so they must be the local ones."""
    monkeypatch.setattr(memory, "DEFAULT_CHUNK_PAIRS", 300)  # several chunks per party pair
    for module in (pipeline, dask_engine):
        monkeypatch.setattr(module, "SCORE_POOL_CAP", 500)  # a subsampled pool
    local = link_files(world, tmp_path / "local", memory="1GB", write_pairs=True)
    link_files(world, tmp_path / "dask", memory="1GB", write_pairs=True,
               engine=DaskEngine(cluster_client))
    _assert_same(tmp_path / "local", tmp_path / "dask")
    assert sum(s.candidates for s in local.pair_stats) > 2 * 500  # the pool did subsample


class _NoPath:
    """An open file seen without its path (as an in-memory batch is): its arrays must be
    sent to the workers."""

    def __init__(self, f: EncodingFile) -> None:
        self.clks, self.tokens, self.present = f.clks, f.tokens, f.present
        self.row_tokens, self.header = f.row_tokens, f.header


def test_inputs_without_a_path_are_sent_to_the_workers(world: list[Path],
                                                       cluster_client: Any) -> None:
    files = [EncodingFile.open(p) for p in world]
    try:
        inputs = [_NoPath(f) for f in files]
        local = link_encodings(inputs, dedup=True)
        dask = link_encodings(inputs, dedup=True, engine=DaskEngine(cluster_client))
    finally:
        for f in files:
            f.close()
    for x, y in zip(local.entities, dask.entities, strict=True):
        assert np.array_equal(x, y)
    for x, y in zip(local.pairs, dask.pairs, strict=True):
        assert np.array_equal(x, y)
    assert local.threshold == dask.threshold


def test_pool_stride_is_the_local_pools(world: list[Path]) -> None:
    rng = np.random.default_rng(3)
    for cap in (50, 100, 1000):  # the pool needs more room than parts (SCORE_POOL_CAP)
        lengths = [int(n) for n in rng.integers(0, 300, 40)]
        pool = _ScorePool(cap)
        parts = [rng.random(n).astype(np.float32) for n in lengths]
        for p in parts:
            pool.add(p)
        stride = pool_stride(lengths, cap)
        assert stride == pool.stride
        assert np.array_equal(pool.scores(), np.concatenate([p[::stride] for p in parts]))
    assert pool_stride([SCORE_POOL_CAP + 1], SCORE_POOL_CAP) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dask_processes() -> Iterator[str]:
    """A ``dask scheduler`` and two ``dask worker`` processes on loopback, running the
    hashmatch under test (same interpreter, its package folder first on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(hashmatch.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    address = f"tcp://127.0.0.1:{_free_port()}"
    common = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                               "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                               "--dashboard-address", "127.0.0.1:0"], **common)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                 "1", "--no-dashboard", "--host", "127.0.0.1"], **common))
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_cli_on_a_scheduler_with_worker_processes(
    world: list[Path], local_results: Callable[[str, bool], Path], dask_processes: str,
    tmp_path: Path,
) -> None:
    dask = CliRunner().invoke(app, ["link", *map(str, world), "--dedup", "--pairs",
                                    "-o", str(tmp_path / "dask"),
                                    "--engine", "dask", "--scheduler", dask_processes])
    assert dask.exit_code == 0, dask.output
    assert "Dask dashboard:" in dask.output
    _assert_same(local_results("dice", True), tmp_path / "dask")


def test_an_unreachable_scheduler_is_an_error_not_a_hang() -> None:
    started = time.monotonic()
    with pytest.raises(DaskEngineError, match="no Dask scheduler answered"), \
            dask_client(f"tcp://127.0.0.1:{_free_port()}", timeout=1):
        pass
    assert time.monotonic() - started < 20


def test_cli_refuses_a_scheduler_without_the_dask_engine(world: list[Path],
                                                         tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["link", *map(str, world), "-o", str(tmp_path / "R"),
                                      "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "needs --engine dask" in result.output


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    with pytest.raises(DaskEngineError) as err, dask_client():
        pass
    assert "pip install 'hashmatch[dask]'" in str(err.value.hint)


def test_importing_hashmatch_does_not_import_dask() -> None:
    code = ("import sys, hashmatch, hashmatch.cli, hashmatch.link; "
            "assert not {'dask', 'distributed'} & set(sys.modules), 'dask imported'")
    env = {**os.environ, "PYTHONPATH": str(Path(hashmatch.__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_workers_open_only_the_coordinators_files(world: list[Path]) -> None:
    """A file is opened by name only where a worker sees it with the coordinator's digest;
    otherwise (another file at that path, none, a process-local name) its arrays are sent."""
    with EncodingFile.open(world[0]) as f:
        digest = f.digest
        assert _shareable_path(f) == os.path.abspath(world[0])
    version, found = _sees({str(world[0]): digest, str(world[1]): digest,
                            str(world[0].with_name("gone.hme")): digest})
    assert version == hashmatch.__version__
    assert found == [str(world[0])]

    class Decrypted:
        path, digest = Path("/proc/self/fd/7"), "ab" * 32

    assert _shareable_path(Decrypted()) is None
