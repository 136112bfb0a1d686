"""Encoding on several processes gives byte for byte the outputs of one, and stops cleanly."""

from __future__ import annotations

import gc
import gzip
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from hashmatch.encode import LinkageSecret, encode_file, encode_records, parallel
from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.keys import RowKey
from hashmatch.encode.parallel import (
    EncoderSetup,
    check_workers,
    default_workers,
    pooled_chunk_rows,
)
from hashmatch.encode.sources.chunk import BadRow, Chunk
from hashmatch.synth import synthesize

CHUNK = 40  # rows per chunk: a few hundred rows make many chunks


@pytest.fixture(scope="module")
def party(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A synthetic crm file with rows every kind of reject: a duplicate id in a later
    chunk, an empty id, a short row, bytes that are not UTF-8, a bad date."""
    root = tmp_path_factory.mktemp("parallel")
    synthesize(root, entities=400, seed=3, parties=["crm"])
    data = root / "crm.csv"
    lines = data.read_bytes().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    extra = [
        rows[5],  # its id again, many chunks later: record_id.duplicate
        b"," + rows[7].split(b",", 1)[1],  # no id: record_id.empty
        b"X1,short\n",  # row.column_count
        rows[9].replace(b",", b",\xff", 1).replace(rows[9].split(b",")[0], b"X2", 1),
    ]
    data.write_bytes(header + b"".join(rows[:150] + extra[:2] + rows[150:] + extra[2:]))
    (root / "clean.csv").write_bytes(header + b"".join(rows))
    secret = root / "linkage.secret"
    LinkageSecret.generate().write(secret)
    RowKey.generate().write(root / "crm.rowkey")
    return {
        "root": root,
        "data": data,
        "schema": root / "schema.toml",
        "mapping": root / "crm.mapping.toml",
        "secret": secret,
        "row_key": root / "crm.rowkey",
    }


def _encode(party: dict[str, Path], data: Path, out: Path, workers: int) -> dict[str, bytes]:
    summary = encode_file(
        data,
        schema=party["schema"],
        secret=party["secret"],
        party="crm",
        mapping=party["mapping"],
        row_key=party["row_key"],
        out=out,
        chunk_rows=CHUNK,
        workers=workers,
    )
    assert summary.read == summary.encoded + summary.rejected
    return {
        kind: path.read_bytes()
        for kind, path in (("hme", out), ("lookup", summary.lookup), ("rejects", summary.rejects))
        if path is not None
    }


def test_outputs_are_byte_identical_for_one_and_two_workers(
    party: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the header's creation time
    one = _encode(party, party["data"], tmp_path / "one.hme", workers=1)
    two = _encode(party, party["data"], tmp_path / "two.hme", workers=2)
    three = _encode(party, party["data"], tmp_path / "three.hme", workers=3)
    assert one == two == three
    reasons = one["rejects"].decode()
    for code in ("record_id.duplicate", "record_id.empty", "row.column_count", "row.undecodable"):
        assert code in reasons  # the rejects report is part of what must be identical


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver"
)
def test_workers_started_from_a_forkserver_encode_alike(
    party: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where workers are not forked, they build their encoder from the pickled setup."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    one = _encode(party, party["data"], tmp_path / "one.hme", workers=1)
    monkeypatch.setattr(sys, "platform", "darwin")  # no fork: the forkserver
    assert parallel._context().get_start_method() == "forkserver"
    two = _encode(party, party["data"], tmp_path / "two.hme", workers=2)
    assert one == two


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")
def test_workers_are_forked_on_linux() -> None:
    """Forked workers inherit the imports and the encoder: no start-up, no pickled keys."""
    assert parallel._context().get_start_method() == "fork"


def test_gzip_and_parquet_inputs_encode_alike_on_any_worker_count(
    party: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    clean = party["root"] / "clean.csv"  # Parquet cannot hold the bad rows: synth rows only
    packed = tmp_path / "clean.csv.gz"
    packed.write_bytes(gzip.compress(clean.read_bytes()))
    header = clean.read_text(encoding="utf-8").splitlines()[0].split(",")
    as_text = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
    )
    parquet = tmp_path / "clean.parquet"
    pq.write_table(pa_csv.read_csv(clean, convert_options=as_text), parquet, row_group_size=64)
    expected = _encode(party, clean, tmp_path / "plain.hme", workers=1)
    for source in (packed, parquet):
        for workers in (1, 2):
            got = _encode(party, source, tmp_path / f"{source.suffix}{workers}.hme", workers)
            assert got["hme"] == expected["hme"], (source.name, workers)
            assert got["lookup"] == expected["lookup"], (source.name, workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")
def test_the_callers_objects_are_frozen_while_forked_workers_run_and_only_then(
    party: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frozen out of the collector while the pool lives (so a forked child's collections
    do not copy the pages it shares with the caller); collectable again afterwards."""
    seen = []
    chunks = parallel._pooled

    def watched(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for item in chunks(*args, **kwargs):  # type: ignore[arg-type]
            seen.append(gc.get_freeze_count())
            yield item

    monkeypatch.setattr(parallel, "_pooled", watched)
    encode_records(party["data"], schema=party["schema"], secret=party["secret"],
                   party="crm", mapping=party["mapping"], chunk_rows=CHUNK, workers=2)
    assert seen and min(seen) > 0
    assert gc.get_freeze_count() == 0


def test_hm_encode_takes_workers(party: dict[str, Path]) -> None:
    key = RowKey.load(party["row_key"])
    batches = [
        encode_records(
            party["data"],
            schema=party["schema"],
            secret=party["secret"],
            party="crm",
            mapping=party["mapping"],
            row_key=key,
            chunk_rows=CHUNK,
            workers=workers,
        )
        for workers in (1, 2)
    ]
    one, two = batches
    assert (one.clks == two.clks).all()
    assert (one.row_tokens == two.row_tokens).all()
    assert all((one.tokens[n] == two.tokens[n]).all() for n in one.tokens)
    assert one.record_ids == two.record_ids
    assert one.rejects == two.rejects
    assert one.rejected_rows.tolist() == two.rejected_rows.tolist()


def test_worker_counts_are_checked() -> None:
    assert check_workers(None) == default_workers() >= 1
    assert check_workers(3) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be"):
            check_workers(bad)  # type: ignore[arg-type]


def test_the_setup_handed_to_workers_never_shows_its_keys(party: dict[str, Path]) -> None:
    from hashmatch.encode.keys import key_bytes
    from hashmatch.schema import load_mapping, load_schema, resolve_columns

    schema = load_schema(party["schema"])
    header = party["data"].read_text(encoding="utf-8", errors="replace").splitlines()[0]
    columns = header.split(",")
    resolved = resolve_columns(load_mapping(party["mapping"], schema), schema, columns, "crm")
    secret = LinkageSecret.load(party["secret"])
    setup = EncoderSetup.of(schema, resolved, columns, secret, RowKey.load(party["row_key"]))
    assert key_bytes(secret).hex() not in repr(setup)
    assert "hidden" in repr(setup)


# -- stopping: Ctrl-C and kill leave no output and no process behind -------------------

_INTERRUPTED_RUN = """
import os, signal, sys
from hashmatch.encode import encode_file
args = dict(schema=sys.argv[2], secret=sys.argv[3], party="crm", mapping=sys.argv[4],
            out=sys.argv[5], chunk_rows=40, workers=2)
def ctrl_c(done, total):  # after the first chunk is written: Ctrl-C
    os.kill(os.getpid(), signal.SIGINT)
try:
    encode_file(sys.argv[1], progress=ctrl_c, **args)
except KeyboardInterrupt:
    print("interrupted")
"""

_SLOW_RUN = """
import os, sys, time
from hashmatch.encode import encode_file
args = dict(schema=sys.argv[2], secret=sys.argv[3], party="crm", mapping=sys.argv[4],
            out=sys.argv[5], chunk_rows=40, workers=2)
def wait(done, total):  # the run stays in flight, workers started, until it is killed
    print("started", flush=True)
    time.sleep(60)
encode_file(sys.argv[1], progress=wait, **args)
"""


def _run_args(party: dict[str, Path], out: Path) -> list[str]:
    return [str(party[k]) for k in ("data", "schema", "secret", "mapping")] + [str(out)]


def _descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[3] / "src")
    import hashmatch

    root = str(Path(hashmatch.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, src])}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_ctrl_c_leaves_no_output(party: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "crm.hme"
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent(_INTERRUPTED_RUN))
    done = subprocess.run(
        [sys.executable, str(script), *_run_args(party, out)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=False,
    )
    assert "interrupted" in done.stdout, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interrupted.py"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_killed_run_leaves_no_output_and_no_worker(
    party: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "crm.hme"
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(_SLOW_RUN))
    run = subprocess.Popen(
        [sys.executable, str(script), *_run_args(party, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        assert run.stdout is not None
        assert run.stdout.readline().strip() == "started"
        helpers = _descendants(run.pid)
        assert helpers, "the pool's processes run below the encoding process"
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(helpers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(helpers)
    finally:
        if run.poll() is None:
            run.kill()
    assert not out.exists()
    assert not out.with_suffix(".lookup").exists()
    assert not out.with_suffix(".rejects.csv").exists()


def test_pooled_runs_read_pieces_of_a_chunk() -> None:
    """Several workers get pieces of a chunk over their number (memory stays near a few
    chunks), not below the floor; one worker reads whole chunks."""
    assert pooled_chunk_rows(50_000, 1) == 50_000
    assert pooled_chunk_rows(50_000, 2) == 25_000
    assert pooled_chunk_rows(50_000, 8) == 6_250
    assert pooled_chunk_rows(50_000, 16) == 5_000
    assert pooled_chunk_rows(2_000, 2) == 2_000


def _numbers(chunk: Chunk | ArrowChunk) -> list[int]:
    return sorted([*chunk.row_numbers, *(b.row for b in chunk.bad_rows)])


def test_the_last_pieces_are_cut_small_in_order() -> None:
    """The tail of a pooled run: the last ``workers`` pieces each cut in four, every row
    and set-aside row in exactly one piece, in file order."""
    bad = [BadRow(3, "", "row.column_count"), BadRow(20, "", "row.column_count")]
    rows = [[str(n)] for n in range(1, 23) if n not in (3, 20)]
    numbers = [n for n in range(1, 23) if n not in (3, 20)]
    whole = [Chunk([[str(n)]], [n]) for n in range(100, 105)] + [Chunk(rows, numbers, bad)]
    pieces = list(parallel._tail_cut(iter(whole), workers=2))
    assert pieces[:4] == whole[:4]
    assert len(pieces) == 4 + 1 + 4  # a one-row piece cannot be cut
    flat = [n for piece in pieces for n in _numbers(piece)]
    assert flat == [*range(100, 105), *range(1, 23)]
    assert [len(piece.rows) for piece in pieces[5:]] == [5, 5, 5, 5]
    assert pieces[5].bad_rows == bad[:1] and pieces[-1].bad_rows == bad[1:]


def test_a_source_that_knows_its_size_hands_on_its_first_chunks_at_once() -> None:
    """With the source's progress, chunks far from the end are not held back (the workers
    start on the first one); the end is still held and cut, every row once, in order."""
    chunks = [Chunk([[str(n)] for n in range(10 * i, 10 * i + 10)],
                    list(range(10 * i, 10 * i + 10))) for i in range(10)]
    pulled = 0

    def source() -> Iterator[Chunk]:
        nonlocal pulled
        for chunk in chunks:
            pulled += 1
            yield chunk

    def progress() -> tuple[int, int | None]:  # 100 bytes a chunk, 1,000 in all
        return 100 * pulled, 1000

    cut = parallel._tail_cut(source(), workers=2, progress=progress)
    assert next(cut) is chunks[0] and pulled == 1  # not three chunks read first
    rest = list(cut)
    assert [n for piece in [chunks[0], *rest] for n in _numbers(piece)] == list(range(100))
    assert len(rest) == 9 - 2 + 2 * parallel._TAIL_CUTS  # the last two cut in four
    assert list(parallel._tail_cut(iter(chunks), 2, lambda: (100, None))) == [
        *chunks[:8], *(p for c in chunks[8:] for p in c.cut(parallel._TAIL_CUTS))
    ]  # a size unknown: held from the start, as before


def test_a_cut_table_factors_only_its_own_values() -> None:
    """A slice of a parsed table keeps its parent's dictionaries; its factors do not (the
    encoder works once per distinct value)."""
    column = pa.array(["a", "b", "a", "c", "d", "d"]).dictionary_encode()
    chunk = ArrowChunk(pa.table({"c0": column}), range(1, 7))
    head, tail = chunk.cut(2)
    assert (head.row_numbers, tail.row_numbers) == (range(1, 4), range(4, 7))
    for piece, expected in ((head, ["a", "b", "a"]), (tail, ["c", "d", "d"])):
        factor = piece.factor(0)
        assert sorted(factor.values) == sorted(set(expected))
        assert [factor.values[c] for c in factor.codes.tolist()] == expected
