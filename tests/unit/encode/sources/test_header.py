"""A first row that looks like data is refused before any of its cells can be printed."""

from __future__ import annotations

import pytest

from hashmatch.encode.sources.header import check_header, value_like_cells
from hashmatch.errors import InputDataError


@pytest.mark.parametrize(
    "header",
    [
        ["id", "first_name", "last_name", "dob", "email", "phone"],
        ["Cust ID", "Full Name", "E-mail Address", "D.O.B.", "Tel. (home)"],
        ["sales_2019", "sales_2020", "address_line_1", "zip5", "@timestamp", "x"],
        ["Vorname", "Nachname", "Geburtsdatum", "PLZ", "Straße", "名前", "שם"],
        [str(i) for i in range(1000)],  # numbered columns (pandas' header=None)
        ["V00001", "V00002"],  # one five-digit run is a code, not a value
        ["id", "balance_2020-12-31", "contact e-mail (x@y.com)"],
    ],
)
def test_real_headers_pass(header: list[str]) -> None:
    check_header(header, "f.csv")


@pytest.mark.parametrize(
    ("header", "found"),
    [
        (["C8937547", "Cynthia", "(210) 555-0144", "1980-11-22", "7 HILLSIDE STREET"], 3),
        (["Zebediah", "Quixley", "1961-04-23", "zeb@pukeko.nz"], 2),
        (["rec-1070-org", "michaela", "neumann", "8", "19151111", "5304218"], 2),
        (["Ann", "Smith", "22/11/1980"], 1),
        (["Ann", "Smith", "a@b.co"], 1),
        (["id", "x" * 200], 1),  # free text, not a name
        (["Ann", "12345", "54321"], 2),  # two five-digit numbers
    ],
)
def test_data_rows_are_refused_without_a_value(header: list[str], found: int) -> None:
    assert value_like_cells(header) == found
    with pytest.raises(InputDataError, match="first row looks like data") as err:
        check_header(header, "nohdr.csv")
    message = str(err.value) + (err.value.hint or "")
    assert "nohdr.csv" in message and "header row" in message
    assert not any(cell[:4] in message for cell in header if len(cell) >= 4)
