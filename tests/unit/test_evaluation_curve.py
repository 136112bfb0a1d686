"""The true precision/recall curve from pairs.csv: components above each threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashmatch.errors import ResultsError
from hashmatch.evaluation_curve import true_curve


def _folder(tmp_path: Path) -> Path:
    # four records of party a (tokens t1..t4); truth: t1~t2 one person, t3 and t4 others
    (tmp_path / "entities.csv").write_text(
        "entity_id,party,row_token,run_id\n"
        "E1,a,t1,r\nE1,a,t2,r\nE1,a,t3,r\nE2,a,t4,r\n"
    )
    (tmp_path / "pairs.csv").write_text(
        "party_a,row_token_a,party_b,row_token_b,score,run_id\n"
        "a,t1,a,t2,0.9000,r\n"  # a true pair, high
        "a,t2,a,t3,0.6000,r\n"  # a false pair, lower
    )
    return tmp_path


def test_curve_counts_pairs_of_the_components_above_each_threshold(tmp_path: Path) -> None:
    truth = {("a", "1"): "P", ("a", "2"): "P", ("a", "3"): "Q", ("a", "4"): "R"}
    lookup = {"t1": "1", "t2": "2", "t3": "3", "t4": "4"}
    curve = {round(p.threshold, 2): p for p in true_curve(_folder(tmp_path), truth, lookup,
                                                            start=0.5, step=0.1)}
    assert sorted(curve) == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert (curve[1.0].precision, curve[1.0].recall) == (1.0, 0.0)  # nothing linked yet
    assert (curve[0.9].precision, curve[0.9].recall) == (1.0, 1.0)  # t1~t2
    # at 0.6 {t1, t2, t3} is one entity: 3 predicted pairs, 1 of them true
    assert curve[0.6].precision == pytest.approx(1 / 3) and curve[0.6].recall == 1.0


def test_no_pairs_file_is_said(tmp_path: Path) -> None:
    (tmp_path / "entities.csv").write_text("entity_id,party,row_token\n")
    with pytest.raises(ResultsError, match="no pairs.csv") as err:
        true_curve(tmp_path, {}, {}, start=0.5)
    assert "link with --pairs" in (err.value.hint or "")
