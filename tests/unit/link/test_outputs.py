"""The results folder: files, columns, what each party sees, and report.json."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hashmatch.errors import ResultsError
from hashmatch.link import LinkResult, PairLinkStats, PartyInfo
from hashmatch.link.entities import EntityStats
from hashmatch.link.outputs import entity_id_strings, party_file_name, write_results


@dataclass(frozen=True)
class Choice:  # stands in for threshold.ThresholdChoice: outputs only reads its fields
    value: float
    method: str
    explanation: str
    edges: tuple[float, ...] = ()  # no histogram: nothing for LinkResult.notes to check


def token(k: int) -> np.ndarray:
    return np.frombuffer(bytes([k]) * 16, np.uint8)


def info(name: str, rows: int) -> PartyInfo:
    return PartyInfo(name, f"{name}.hme", rows, "ab" * 32, "sha256:x", 1, 1024, "")


@pytest.fixture
def result() -> LinkResult:
    # a: rows 0,1; b: rows 0,1,2; c: row 0. Entities: {a0,b1,c0}, {a1}, {b0}, {b2}.
    entities = (np.array([2, 0]), np.array([3, 2, 1]), np.array([2]))
    return LinkResult(
        parties=(info("a", 2), info("b", 3), info("c x", 1)),
        row_tokens=(
            np.stack([token(1), token(2)]),
            np.stack([token(3), token(4), token(5)]),
            np.stack([token(6)]),
        ),
        entities=entities,
        n_entities=4,
        threshold=Choice(0.8, "valley", "the valley of the histogram"),
        pair_stats=(PairLinkStats("a", "b", 10, 1, 1, None, None),),
        entity_stats=EntityStats(2, 2, 0, 0, 0, 4, 1),
        dedup=False,
        pairs=(
            np.array([0, 1]),
            np.array([0, 1]),
            np.array([1, 2]),
            np.array([1, 0]),
            np.array([0.93, 0.88], np.float32),
        ),
        score_sample=np.array([0.1, 0.9], np.float32),
        timings={"compare": 0.5},
    )


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_entities_file_lists_every_row(tmp_path: Path, result: LinkResult) -> None:
    write_results(result, tmp_path, histogram=False)
    got = rows(tmp_path / "entities.csv")
    assert len(got) == 6
    assert {r["party"] for r in got} == {"a", "b", "c x"}
    shared = {r["entity_id"] for r in got if r["row_token"] == token(1).tobytes().hex()}
    assert shared == {"E000003"}
    assert sorted(r["row_token"] for r in got if r["entity_id"] == "E000003") == sorted(
        t.tobytes().hex() for t in (token(1), token(4), token(6))
    )


def test_party_files_hold_only_their_rows(tmp_path: Path, result: LinkResult) -> None:
    files = write_results(result, tmp_path, histogram=False)
    assert files.parties["c x"].name == "c_x.csv"
    b = rows(tmp_path / "b.csv")
    assert [r["row_token"] for r in b] == [token(k).tobytes().hex() for k in (3, 4, 5)]
    assert list(b[0]) == ["row_token", "entity_id", "run_id"]
    assert {r["run_id"] for r in b} == {files.run_id}


def test_other_parties_are_named_only_on_request(tmp_path: Path, result: LinkResult) -> None:
    write_results(result, tmp_path, histogram=False, share_party_names=True)
    a = rows(tmp_path / "a.csv")
    assert [r["other_parties"] for r in a] == ["b;c x", ""]


def test_pairs_are_opt_in(tmp_path: Path, result: LinkResult) -> None:
    write_results(result, tmp_path, histogram=False)
    assert not (tmp_path / "pairs.csv").exists()
    files = write_results(result, tmp_path, histogram=False, write_pairs=True, force=True)
    pairs = rows(tmp_path / "pairs.csv")
    assert pairs[0] == {
        "party_a": "a",
        "row_token_a": token(1).tobytes().hex(),
        "party_b": "b",
        "row_token_b": token(4).tobytes().hex(),
        "score": "0.9300",
        "run_id": files.run_id,
    }


def test_report_has_counts_not_rows(tmp_path: Path, result: LinkResult) -> None:
    write_results(result, tmp_path, histogram=False)
    text = (tmp_path / "report.json").read_text()
    report = json.loads(text)
    assert report["format_version"] == 1
    assert report["counts"]["rows"] == 6
    assert report["counts"]["entities"] == 4
    assert report["counts"]["entities_by_size"] == {"1": 3, "3": 1}
    assert report["threshold"] == {
        "value": 0.8,
        "method": "valley",
        "explanation": "the valley of the histogram",
        "edges": [],
    }
    assert report["notes"] == []
    assert report["timings_seconds"]["compare"] == 0.5
    assert set(report["timings_seconds"]) == {"compare", "write_outputs"}
    assert token(1).tobytes().hex() not in text


def test_clashing_party_file_names_are_refused(tmp_path: Path, result: LinkResult) -> None:
    result.parties = (info("a?", 2), info("a*", 3), info("c", 1))
    with pytest.raises(ResultsError, match="clashing"):
        write_results(result, tmp_path, histogram=False)
    result.parties = (info("a", 2), info("entities", 3), info("c", 1))
    with pytest.raises(ResultsError, match="clashing"):
        write_results(result, tmp_path, histogram=False)


def test_no_temporary_files_are_left(tmp_path: Path, result: LinkResult) -> None:
    write_results(result, tmp_path, histogram=False, write_pairs=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_helpers() -> None:
    assert entity_id_strings(np.array([0, 41]), 50) == ["E000001", "E000042"]
    assert entity_id_strings(np.array([0]), 1_234_567) == ["E0000001"]
    assert party_file_name("../etc") == "_etc.csv"


@pytest.mark.parametrize("share", [False, True])
def test_rows_written_a_block_at_a_time_give_the_same_files(
    tmp_path: Path, result: LinkResult, share: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = write_results(result, tmp_path / "whole", histogram=False,
                          share_party_names=share)
    monkeypatch.setattr("hashmatch.link.outputs._ROWS_PER_BLOCK", 1)
    blocks = write_results(result, tmp_path / "blocks", histogram=False,
                           share_party_names=share)
    names = ["entities.csv", "a.csv", "b.csv", "c_x.csv"]
    for name in names:
        want = (tmp_path / "whole" / name).read_text().replace(whole.run_id, "RUN")
        got = (tmp_path / "blocks" / name).read_text().replace(blocks.run_id, "RUN")
        assert got == want
        assert got.count("\n") == 1 + (6 if name == "entities.csv" else len(rows(
            tmp_path / "whole" / name)))
