"""Is the first row of a file a header? A file without one must be refused before any of
its cells is printed as a "column name".

Column names are not personal data and may appear in messages and reports; a data row
read as a header is. Every file reader checks its header with :func:`check_header`
before anything else sees it: a row holding an e-mail address, a date, a long number
(phone, id) or a cell longer than any column name is taken for data and the file is
refused with a message that names the file and the fix, never a cell. Names alone cannot
tell ``Ann,Smith`` from a header, so code that prints header cells in messages does so
only once the header is evidently one (see
:func:`hashmatch.schema.mapping.resolve_columns`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hashmatch.errors import InputDataError

#: Longest plausible column name; a longer first-row cell is free text.
MAX_NAME_LENGTH = 128
# Whole cells: a value is the cell; a name may hold a date ("balance_2020-12-31").
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^\W\d_]{2,}")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_DIGIT = re.compile(r"\d")


def value_like_cells(header: Sequence[str]) -> int:
    """How many cells of ``header`` look like values (see :func:`check_header`)."""
    count = 0
    digit_heavy = 0
    for cell in header:
        digits = len(_DIGIT.findall(cell))
        strong = (
            len(cell) > MAX_NAME_LENGTH
            or (digits >= 7 and 2 * digits >= len("".join(cell.split())))  # mostly digits
            or _EMAIL.fullmatch(cell.strip()) is not None
            or _DATE.fullmatch(cell.strip()) is not None
        )
        count += strong
        digit_heavy += not strong and digits >= 5 and not any(c.isalpha() for c in cell)
    return count + (digit_heavy if digit_heavy >= 2 else 0)


def check_header(header: Sequence[str], file: str | None) -> None:
    """Refuse a first row that looks like a data row.

    A cell that is an e-mail address or a date, is mostly digits with seven or more (a
    phone number or an id), or is longer than 128 characters, is a value, and so are two numbers of five digits
    or more (postcodes); one such cell is enough to refuse. Column names with a year or a
    number (``sales_2019``, ``address_line_2``, ``V00001``, ``balance_2020-12-31``) pass.

    Raises
    ------
    InputDataError
        Naming the file and how many cells look like values, never a cell.

    Example
    -------
    >>> check_header(["id", "surname", "sales_2019", "@timestamp"], "a.csv")
    >>> check_header(["C8937547", "Cynthia", "1980-11-22"], "a.csv")
    Traceback (most recent call last):
    ...
    hashmatch.errors.InputDataError: file a.csv: the first row looks like data, not a header (2 of 3 cells look like e-mail addresses, dates, phone numbers or ids)
    """  # noqa: E501
    found = value_like_cells(header)
    if found:
        raise InputDataError(
            f"the first row looks like data, not a header ({found} of {len(header)} cells "
            "look like e-mail addresses, dates, phone numbers or ids)",
            file=file,
            hint="add a header row with the column names as the file's first line",
        )
