"""Evaluation measures against hand-computed values, and the file-level entry point."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hashmatch.errors import ResultsError
from hashmatch.evaluate import evaluate, evaluate_labels, evaluate_table

# Records a1 a2 b1 b2 c1. Truth: {a1,b1,c1} {a2,b2}. Predicted: {a1,b1} {c1} {a2,b2}.
PARTIES = ["a", "b", "c", "a", "b"]
TRUE = ["T1", "T1", "T1", "T2", "T2"]
PRED = ["P1", "P1", "P2", "P3", "P3"]


def test_pairwise_counts_and_scores() -> None:
    r = evaluate_labels(PRED, TRUE, PARTIES)
    assert (r.pairwise.true_positives, r.pairwise.predicted_pairs, r.pairwise.true_pairs) == (
        2,
        2,
        4,
    )
    assert r.precision == 1.0
    assert r.recall == 0.5
    assert r.f1 == pytest.approx(2 / 3)


def test_per_party_pair() -> None:
    r = evaluate_labels(PRED, TRUE, PARTIES)
    ab = r.per_party_pair[("a", "b")]
    assert (ab.true_positives, ab.predicted_pairs, ab.true_pairs) == (2, 2, 2)
    ac = r.per_party_pair[("a", "c")]
    assert (ac.true_positives, ac.predicted_pairs, ac.true_pairs) == (0, 0, 1)
    assert math.isnan(ac.precision)
    assert ac.recall == 0.0
    assert r.per_party_pair[("a", "a")].true_pairs == 0


def test_cluster_measures() -> None:
    r = evaluate_labels(PRED, TRUE, PARTIES)
    assert r.bcubed_precision == 1.0
    assert r.bcubed_recall == pytest.approx(11 / 15)
    assert r.exact_cluster_accuracy == 0.5
    assert (r.true_entities, r.predicted_entities) == (2, 3)


def test_over_merging_costs_precision_not_recall() -> None:
    # Twins t1 (a) and t2 (b) merged with t1's record in c: one wrong pair of three.
    r = evaluate_labels(["X", "X", "X"], ["t1", "t2", "t1"], ["a", "b", "c"])
    assert (r.pairwise.true_positives, r.pairwise.predicted_pairs, r.pairwise.true_pairs) == (
        1,
        3,
        1,
    )
    assert r.recall == 1.0
    assert r.precision == pytest.approx(1 / 3)
    assert r.bcubed_precision == pytest.approx((2 / 3 + 1 / 3 + 2 / 3) / 3)
    assert r.exact_cluster_accuracy == 0.0


def test_within_party_duplicates_count_as_pairs() -> None:
    r = evaluate_labels(["X", "X", "Y"], ["t", "t", "t"], ["a", "a", "b"])
    aa = r.per_party_pair[("a", "a")]
    assert (aa.true_positives, aa.predicted_pairs, aa.true_pairs) == (1, 1, 1)
    assert r.recall == pytest.approx(1 / 3)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_files_through_lookups(tmp_path: Path) -> None:
    tok = [f"{k:032x}" for k in range(6)]
    results = tmp_path / "RESULTS"
    results.mkdir()
    write(
        results / "entities.csv",
        "entity_id,party,row_token\n"
        + "".join(
            f"{e},{p},{t}\n"
            for e, p, t in [
                ("E1", "a", tok[0]),
                ("E1", "b", tok[2]),
                ("E2", "c", tok[4]),
                ("E3", "a", tok[1]),
                ("E3", "b", tok[3]),
                ("E4", "b", tok[5]),
            ]
        ),
    )
    la = write(tmp_path / "a.lookup", f"row_token,record_id\n{tok[0]},a1\n{tok[1]},a2\n")
    lb = write(tmp_path / "b.lookup", f"row_token,record_id\n{tok[2]},b1\n{tok[3]},b2\n")
    lc = write(tmp_path / "c.lookup", f"row_token,record_id\n{tok[4]},c1\n")
    truth = write(
        tmp_path / "truth.csv",
        "party,record_id,entity_id\na,a1,T1\nb,b1,T1\nc,c1,T1\na,a2,T2\nb,b2,T2\nc,c9,T3\n",
    )
    r = evaluate(results, truth, [la, lb, lc])
    assert (r.precision, r.recall) == (1.0, 0.5)
    assert r.rows_without_lookup == 1  # tok[5] has no lookup
    assert r.truth_records_missing == 1  # c9 was never linked
    doc = r.to_dict()
    json.dumps(doc)  # NaN-free
    assert doc["pairwise"]["f1"] == pytest.approx(2 / 3)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    bad = write(tmp_path / "entities.csv", "id,party\n")
    truth = write(tmp_path / "truth.csv", "party,record_id,entity_id\n")
    with pytest.raises(ResultsError, match="row_token"):
        evaluate(bad, truth, [])


def test_nothing_scoreable_is_an_error(tmp_path: Path) -> None:
    ents = write(tmp_path / "entities.csv", "entity_id,party,row_token\nE1,a," + "0" * 32 + "\n")
    truth = write(tmp_path / "truth.csv", "party,record_id,entity_id\na,1,T\n")
    with pytest.raises(ResultsError, match="no row could be matched"):
        evaluate(ents, truth, [])


# -- evaluate_table (hm.evaluate): a linkage table and a truth DataFrame --------------


def _tables():
    pd = pytest.importorskip("pandas")
    ids = ["a1", "b1", "c1", "a2", "b2"]
    table = pd.DataFrame({"party": PARTIES, "record_id": ids, "entity_id": PRED})
    truth = pd.DataFrame({"party": PARTIES, "record_id": ids, "entity_id": TRUE})
    return pd, table, truth


def test_table_scores_match_the_labels() -> None:
    _, table, truth = _tables()
    s = evaluate_table(table, truth)
    r = evaluate_labels(PRED, TRUE, PARTIES)
    assert (s.precision, s.recall, s.f1) == (r.precision, r.recall, r.f1)
    assert (s.bcubed_precision, s.bcubed_recall, s.bcubed_f1) == (
        r.bcubed_precision,
        r.bcubed_recall,
        r.bcubed_f1,
    )
    assert s.records == 5 and s.report.pairwise == r.pairwise
    assert (s.rows_without_entity, s.rows_without_truth, s.truth_records_missing) == (0, 0, 0)
    with pytest.raises(AttributeError):
        s.f1 = 1.0  # type: ignore[misc]  # frozen


def test_rejected_and_unknown_rows_are_counted_not_scored() -> None:
    pd, table, truth = _tables()
    rejected = pd.DataFrame({"party": ["a"], "record_id": ["a3"], "entity_id": [None]})
    stranger = pd.DataFrame({"party": ["c"], "record_id": ["zz"], "entity_id": ["P9"]})
    table = pd.concat([table.iloc[1:], rejected, stranger], ignore_index=True)
    truth = pd.concat(
        [truth, pd.DataFrame({"party": ["a"], "record_id": ["a3"], "entity_id": ["T2"]})]
    )
    s = evaluate_table(table, truth)
    assert s.records == 4
    assert (s.rows_without_entity, s.rows_without_truth, s.truth_records_missing) == (1, 1, 2)
    assert "rows_without_entity=1" in repr(s)


def test_ids_compare_as_text_and_truth_may_be_a_csv(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"party": ["a", "b"], "record_id": [1, 1], "entity_id": ["E1", "E1"]})
    (tmp_path / "truth.csv").write_text("party,record_id,entity_id\na,1,x\nb, 1,x\n")
    s = evaluate_table(table, tmp_path / "truth.csv")
    assert (s.records, s.precision, s.recall) == (2, 1.0, 1.0)


def test_table_joined_on_row_tokens_when_the_truth_has_no_record_ids() -> None:
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame({"party": ["a", "b"], "row_token": ["t1", "t2"], "entity_id": ["E", "E"]})
    truth = table.assign(entity_id=["x", "y"])
    assert evaluate_table(table, truth).precision == 0.0


def test_table_problems_are_named() -> None:
    pd, table, truth = _tables()
    with pytest.raises(ResultsError, match="the table has no column entity_id"):
        evaluate_table(table.drop(columns="entity_id"), truth)
    with pytest.raises(ResultsError, match="more than once"):
        evaluate_table(table, pd.concat([truth, truth]))
    with pytest.raises(ResultsError, match="no row of the table"):
        evaluate_table(table.assign(party="nobody"), truth)


def test_scores_repr_and_card() -> None:
    _, table, truth = _tables()
    s = evaluate_table(table, truth)
    assert repr(s).startswith("LinkageScores(pairwise P=1.0000 R=0.5000 F1=0.6667; B-cubed")
    assert "<table>" in s._repr_html_()


def test_docstring_examples_run() -> None:
    import doctest

    import hashmatch.evaluate

    result = doctest.testmod(hashmatch.evaluate)
    assert result.attempted > 0 and result.failed == 0
