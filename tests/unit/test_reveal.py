"""Party-side rejoin: record ids onto the coordinator's results, by row token, in order."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import hashmatch.reveal
from hashmatch.errors import OutputError, ResultsError
from hashmatch.reveal import RevealSummary, reveal

TOKENS = [f"{i:032x}" for i in range(1, 5)]


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    results = tmp_path / "crm.csv"
    results.write_text(
        "row_token,entity_id,other_parties\n"
        f"{TOKENS[2]},E2,\n"
        f"{TOKENS[0].upper()},E1,partner\n"  # tokens match whatever their case
        f"{TOKENS[1]},E1,partner\n"
    )
    lookup = tmp_path / "crm.lookup"
    lookup.write_text(
        "row_token,record_id\n" + "".join(f"{t},cust-{i}\n" for i, t in enumerate(TOKENS, 1))
    )
    return results, lookup


def test_record_ids_are_joined_in_the_results_order(files: tuple[Path, Path]) -> None:
    results, lookup = files
    out = results.with_name("revealed.csv")
    summary = reveal(results, lookup, out)
    assert out.read_text().splitlines() == [
        "record_id,entity_id,other_parties",
        "cust-3,E2,",
        "cust-1,E1,partner",
        "cust-2,E1,partner",
    ]
    assert summary == RevealSummary(out, rows=3, entities=2, shared=2, lookup_rows_unused=1)
    assert out.stat().st_mode & 0o077 == 0  # it links internal ids to entities


def test_results_without_other_parties_give_two_columns(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text(f"row_token,entity_id\n{TOKENS[0]},E9\n")
    (tmp_path / "l.csv").write_text(f"row_token,record_id\n{TOKENS[0]},a\n")
    summary = reveal(tmp_path / "r.csv", tmp_path / "l.csv", tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_text() == "record_id,entity_id\na,E9\n"
    assert summary.shared == 0


def test_a_token_from_another_run_is_refused_and_nothing_is_written(
    files: tuple[Path, Path],
) -> None:
    results, lookup = files
    lookup.write_text(f"row_token,record_id\n{TOKENS[0]},cust-1\n")
    out = results.with_name("revealed.csv")
    refused = r"crm\.lookup does not belong to .*crm\.csv: 2 of"
    with pytest.raises(ResultsError, match=refused) as caught:
        reveal(results, lookup, out)
    assert "with this .hme file" in (caught.value.hint or "")
    assert not out.exists()


@pytest.mark.parametrize(
    ("which", "text", "message"),
    [
        ("results", "token,entity\nx,y\n", "not a party results file"),
        ("lookup", "id,record\nx,y\n", "not a lookup file"),
        ("results", f"row_token,entity_id\n{TOKENS[0]}\n", "line 2: expected 2 columns"),
        ("lookup", f"row_token,record_id\n{TOKENS[0]}\n", "line 2: expected 2 cells, got 1"),
    ],
)
def test_files_of_the_wrong_shape_are_refused(
    files: tuple[Path, Path], which: str, text: str, message: str
) -> None:
    results, lookup = files
    (results if which == "results" else lookup).write_text(text)
    with pytest.raises(ResultsError, match=message):
        reveal(results, lookup, results.with_name("out.csv"))


def test_missing_files_and_overwriting_an_input_are_refused(files: tuple[Path, Path]) -> None:
    results, lookup = files
    with pytest.raises(ResultsError, match="no such file"):
        reveal(results.with_name("none.csv"), lookup, results.with_name("out.csv"))
    before = lookup.read_bytes()
    with pytest.raises(OutputError, match="also an input of this command"):
        reveal(results, lookup, lookup, force=True)
    assert lookup.read_bytes() == before


def test_docstring_example_runs() -> None:
    result = doctest.testmod(hashmatch.reveal)
    assert result.attempted > 0 and result.failed == 0
