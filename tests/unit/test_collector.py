"""The cyclic collector is paused over an encode run and restored after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hashmatch.collector import collector_paused, step
from hashmatch.encode import LinkageSecret, encode_file, encode_records, parallel
from hashmatch.synth import synthesize

CHUNK = 50


@contextmanager
def recorded() -> Iterator[list[int]]:
    """The generation of every collection that starts inside the block."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


def test_the_collector_is_restored_as_it_was() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: still paused after the inner block
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller who had it off keeps it off
    finally:
        gc.enable()


def test_an_error_inside_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_step_collects_young_cycles() -> None:
    with recorded() as collections, collector_paused():
        ring: list[object] = []
        ring.append(ring)  # a cycle only the collector can free
        del ring
        step()
    assert collections == [0]


@pytest.mark.parametrize("workers", [1, 2])
def test_encoding_runs_only_its_own_young_collections(tmp_path: Path, workers: int) -> None:
    """Thousands of automatic collections (some walking every object) would run over
    these rows; with the pause there is one young collection a piece (a chunk, or a
    part of one of the last chunks cut for the workers), no more."""
    synthesize(tmp_path, entities=400, seed=5, parties=["crm"])
    secret = tmp_path / "linkage.secret"
    LinkageSecret.generate().write(secret)
    rows = sum(1 for _ in (tmp_path / "crm.csv").open()) - 1
    with recorded() as collections:
        summary = encode_file(
            tmp_path / "crm.csv",
            schema=tmp_path / "schema.toml",
            secret=secret,
            party="crm",
            mapping=tmp_path / "crm.mapping.toml",
            out=tmp_path / "crm.hme",
            chunk_rows=CHUNK,
            workers=workers,
        )
    assert summary.read == rows
    assert gc.isenabled()
    assert set(collections) == {0}
    pieces = -(-rows // CHUNK) + (workers - 1) * workers * parallel._TAIL_CUTS
    assert len(collections) <= pieces


def test_in_memory_encoding_restores_the_collector() -> None:
    batch = encode_records(
        [{"surname": "Smith"}, {"surname": "Jones"}],
        schema={
            "version": 1,
            "clk": {"bits": 128},
            "fields": [{"name": "surname", "type": "name", "bloom": True}],
        },
        secret=LinkageSecret(bytes(32)),
        party="demo",
        workers=1,
    )
    assert batch.summary.encoded == 2
    assert gc.isenabled()
