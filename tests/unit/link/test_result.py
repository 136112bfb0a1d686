"""LinkResult as a user sees it: to_pandas(), write(), repr and the notebook card."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import hashmatch as hm
from hashmatch.link.outputs import entity_id_strings, row_token_strings

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def result(crm_batch, calls_batch, facade_parties) -> hm.LinkResult:
    return hm.link([crm_batch, calls_batch], threshold=facade_parties.threshold)


@pytest.fixture(scope="module")
def all_ids(facade_parties) -> list[str]:
    return [row[0] for row in facade_parties.crm + facade_parties.calls]


def test_table_has_one_row_per_input_row_rejected_ones_included(result, all_ids) -> None:
    table = result.to_pandas()
    assert list(table.columns) == [
        "party",
        "row",
        "record_id",
        "row_token",
        "entity_id",
        "status",
        "reason",
    ]
    assert len(table) == len(all_ids)
    crm = table[table.party == "crm"]
    assert crm.row.tolist() == [1, 2, 3, 4, 5, 6]  # input order, the rejected row in place
    rejected = crm[crm.status == "rejected"]
    assert rejected.row.tolist() == [6]
    assert rejected.reason.tolist() == ["required.empty (last_name)"]
    assert rejected[["record_id", "row_token", "entity_id"]].isna().all().all()
    assert table[table.status != "rejected"].reason.isna().all()


def test_rejected_rows_can_be_left_out(result, all_ids) -> None:
    table = result.to_pandas(rejected=False)
    assert len(table) == len(all_ids) - 1
    assert set(table.status) == {"matched", "unmatched"}


def test_entities_join_the_same_people(result, facade_parties) -> None:
    table = result.to_pandas().dropna(subset=["entity_id"])
    entity = dict(zip(zip(table.party, table.record_id, strict=True), table.entity_id, strict=True))
    linked = {
        (c, k)
        for (p, c) in entity
        if p == "crm"
        for (q, k) in entity
        if q == "calls" and entity[(p, c)] == entity[(q, k)]
    }
    assert linked == facade_parties.same_person
    status = dict(zip(table.record_id, table.status, strict=True))
    assert status["c5"] == status["k7"] == "unmatched" and status["c1"] == "matched"


def test_ids_and_tokens_are_those_the_files_carry(result, tmp_path: Path) -> None:
    table = result.to_pandas(rejected=False)
    for p, party in enumerate(result.party_names):
        rows = table[table.party == party]
        assert rows.row_token.tolist() == row_token_strings(result.row_tokens[p])
        expected = entity_id_strings(result.entities[p], result.n_entities)
        assert rows.entity_id.tolist() == expected
    files = result.write(tmp_path / "results")
    written = pd.read_csv(files.parties["crm"], dtype=str)
    crm = table[table.party == "crm"]
    assert written.entity_id.tolist() == crm.entity_id.tolist()
    assert written.row_token.tolist() == crm.row_token.tolist()


def test_record_ids_are_never_written_to_the_results_folder(
    result, all_ids, tmp_path: Path
) -> None:
    result.write(tmp_path / "results", write_pairs=True)
    ids = set(all_ids)
    for path in (tmp_path / "results").iterdir():
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                cells = {cell for row in csv.reader(fh) for cell in row}
            assert not ids & cells, path.name
        elif path.suffix == ".json":
            text = path.read_text(encoding="utf-8")
            assert not [i for i in ids if f'"{i}"' in text], path.name


def test_parties_given_as_files_have_tokens_but_no_record_ids(
    crm_batch, calls_batch, facade_parties, tmp_path: Path
) -> None:
    calls_batch.write(tmp_path / "calls.hme")
    result = hm.link([crm_batch, tmp_path / "calls.hme"], threshold=facade_parties.threshold)
    table = result.to_pandas()
    calls = table[table.party == "calls"]
    assert len(calls) == len(facade_parties.calls)
    assert calls[["row", "record_id"]].isna().all().all()
    assert calls.row_token.str.fullmatch("[0-9a-f]{32}").all()
    assert table[table.party == "crm"].record_id.notna().sum() == len(facade_parties.crm) - 1


def test_repr_is_one_short_line_and_the_card_a_summary(result, all_ids) -> None:
    text = repr(result)
    assert text.startswith("LinkResult(parties=[crm: 5, calls: 5], entities=6,")
    assert "threshold=0.600 (explicit)" in text and "\n" not in text and len(text) < 300
    html = result._repr_html_()
    assert "<table>" in html and "crm" in html and "explicit" in html
    assert not [i for i in all_ids if f">{i}<" in html]
