"""The output policy: --force to replace, never an input, never a folder or a device."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.csv_cells import csv_field, needs_escape, safe_cell, unescape_cell
from hashmatch.errors import OutputError, PartyNameError
from hashmatch.output_policy import check_output_file, check_output_folder, same_file
from hashmatch.party_names import check_party_name, party_name_problem


def test_a_new_file_is_fine_and_an_existing_one_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert check_output_file(out) == out
    out.write_text("keep")
    with pytest.raises(OutputError, match="out.csv exists; refusing to overwrite it") as info:
        check_output_file(out)
    assert "--force" in (info.value.hint or "")
    assert check_output_file(out, force=True) == out


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_an_input_is_never_an_output_even_with_force(tmp_path: Path, spelling: str) -> None:
    data = tmp_path / "customers.csv"
    data.write_text("id\n1\n")
    out = {
        "same": data,
        "dotted": tmp_path / "." / "customers.csv",
        "symlink": tmp_path / "link.csv",
        "hardlink": tmp_path / "hard.csv",
    }[spelling]
    if spelling == "symlink":
        out.symlink_to(data)
    if spelling == "hardlink":
        os.link(data, out)
    assert same_file(out, data)
    with pytest.raises(OutputError, match="also an input of this command"):
        check_output_file(out, force=True, reads=[None, data])


@pytest.mark.parametrize("target", ["/dev/null", "fifo", "folder"])
def test_devices_fifos_and_folders_are_never_file_outputs(tmp_path: Path, target: str) -> None:
    path = Path(target) if target.startswith("/") else tmp_path / target
    if target == "fifo":
        os.mkfifo(path)
    elif target == "folder":
        path.mkdir()
    with pytest.raises(OutputError, match="it is a (device|folder)"):
        check_output_file(path, force=True)


def test_a_missing_folder_and_stdout_are_named(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="folder .*nope does not exist") as info:
        check_output_file(tmp_path / "nope" / "a.csv")
    assert info.value.hint == "create the folder first, or choose another path"
    with pytest.raises(OutputError, match="standard output"):
        check_output_file("-")
    with pytest.raises(OutputError, match="standard output"):
        check_output_folder("-")


def test_a_folder_output_is_replaced_only_when_it_holds_our_files(tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert check_output_folder(results) == results  # missing: fine
    results.mkdir()
    assert check_output_folder(results) == results  # empty: fine
    (results / "report.json").write_text("{}")
    with pytest.raises(OutputError, match="is not empty"):
        check_output_folder(results)
    ours = lambda name: name.endswith((".csv", ".json"))  # noqa: E731
    assert check_output_folder(results, force=True, replaceable=ours) == results
    (results / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="1 file.* this command does not write"):
        check_output_folder(results, force=True, replaceable=ours)
    (results / "notes.txt").unlink()
    (results / "crm.hme").write_text("input")
    with pytest.raises(OutputError, match="crm.hme, which this command reads"):
        check_output_folder(results, force=True, replaceable=lambda n: True,
                            reads=[results / "crm.hme"])  # fmt: skip
    with pytest.raises(OutputError, match="a file of that name exists"):
        check_output_folder(results / "report.json", force=True)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("a\nb", "printable"),
        ("crm\u202e", "printable"),  # right-to-left override
        ("zero\u200bwidth", "printable"),
        ("tab\tbed", "printable"),
        (" crm", "space"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "path separator"),
        ("=HYPERLINK(1)", "formula"),
        ("+1", "formula"),
        ("-x", "formula"),
        ("@x", "formula"),
        ("x" * 101, "at most 100"),
    ],
)
def test_party_names_that_are_refused(name: str, problem: str) -> None:
    assert problem in (party_name_problem(name) or "")
    with pytest.raises(PartyNameError) as info:
        check_party_name(name, where="--party")
    assert name not in str(info.value) or name in ("", "..")  # never echoed


@pytest.mark.parametrize("name", ["crm", "call centre", "partner_2", "Hôpital-Nord", "A.B"])
def test_party_names_that_are_fine(name: str) -> None:
    assert check_party_name(name) == name


@given(st.text())
def test_csv_cells_round_trip_and_never_start_a_formula(text: str) -> None:
    cell = safe_cell(text)
    assert unescape_cell(cell) == text
    assert cell.startswith("'") == needs_escape(text) or text.startswith("'")
    assert not cell.startswith(("=", "@", "\t", "\r"))
    if cell.startswith(("+", "-")):  # only a plain number may
        float(cell)


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("\tx", "'\tx"),
        ("-5", "-5"),
        ("+44123", "+44123"),
        ("'quoted", "''quoted"),
        ("plain", "plain"),
    ],
)
def test_csv_cells(text: str, cell: str) -> None:
    assert safe_cell(text) == cell
    assert csv_field(text) in (cell, '"' + cell + '"')
