"""The fs scorer's second pass takes the comparison patterns its fit pass kept."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.link import fs_scorer, link_files
from hashmatch.synth import synthesize


@pytest.fixture(scope="module")
def encodings(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("fs-scorer")
    data = synthesize(root / "parties", entities=300, seed=3)
    secret = root / "linkage.secret"
    LinkageSecret(bytes([5]) * 32).write(secret)  # test-only
    for name, files in data.parties.items():
        encode_file(files.csv, schema=data.schema, secret=secret, party=name,
                    mapping=files.mapping, out=root / f"{name}.hme")
    return sorted(root.glob("*.hme"))


def _without_run_id(path: Path) -> list[str]:
    """The rows of a results CSV without their last column (the run id differs)."""
    return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]


def test_scoring_takes_the_kept_patterns_and_scores_as_computing_them(
    encodings: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replayed = itertools.count()
    decode = fs_scorer.decode_patterns  # only the replay of a kept chunk decodes patterns

    def counting(*args):  # type: ignore[no-untyped-def]
        next(replayed)
        return decode(*args)

    monkeypatch.setattr(fs_scorer, "decode_patterns", counting)
    link_files(encodings, tmp_path / "kept", dedup=True, scoring="fs", write_pairs=True)
    assert next(replayed) > 0  # every job's chunks came from the fit pass
    # chunks never recognised: every pair compared afresh, the same results
    unique = itertools.count()
    monkeypatch.setattr(fs_scorer, "_chunk_fingerprint", lambda i, j: next(unique))
    link_files(encodings, tmp_path / "fresh", dedup=True, scoring="fs", write_pairs=True)
    for name in ("pairs.csv", "entities.csv"):
        kept = _without_run_id(tmp_path / "kept" / name)
        assert kept == _without_run_id(tmp_path / "fresh" / name), name
