"""Date normalisation: explicit per-party formats, calendar validation, sentinels, window.

Each party lists its ``strptime``-style formats (``date_formats`` in its mapping), tried
in order; the default is ISO ``%Y-%m-%d`` then compact ``%Y%m%d``. Formats are compiled
once into regular expressions (``datetime.strptime`` is slow and cannot tell a value in
the wrong format from an impossible date such as 31 February; we must). Supported
directives: ``%Y %y %m %d %b %B %H %I %M %S %f %p %%``; time parts are checked and
dropped. Whitespace in a format matches any run of whitespace, as in ``strptime``.

Canonical form by precision: ``YYYY-MM-DD``, ``YYYY-MM`` (a format without ``%d``) or
``YYYY`` (a format with only a year), so a party that only has the birth year still
contributes that. ``%y`` takes the century that puts the year at or before the
``latest`` bound (a 2-digit birth year is in the past), never a fixed pivot.
Order of checks: shared placeholders ("0000-00-00"), format, calendar, sentinel dates
(``1900-01-01``, ``9999-12-31``... are missing, not invalid), validity window.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from hashmatch.normalize import placeholders
from hashmatch.normalize._base import ColumnSource, InvalidValue, MissingValue

DEFAULT_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%Y%m%d")
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS["sept"] = 9
_DIGIT_DIRECTIVES = frozenset("YymdHIMSf")
# directive -> (regex when followed by a separator, regex when followed by a digit directive)
_DIRECTIVES: dict[str, tuple[str, str]] = {
    "Y": (r"(?P<Y>\d{4})", r"(?P<Y>\d{4})"),
    "y": (r"(?P<y>\d{2})", r"(?P<y>\d{2})"),
    "m": (r"(?P<m>\d{1,2})", r"(?P<m>\d{2})"),
    "d": (r"(?P<d>\d{1,2})", r"(?P<d>\d{2})"),
    "b": (r"(?P<b>[a-z]{3,9})", r"(?P<b>[a-z]{3,9})"),
    "H": (r"(?:[01]?\d|2[0-3])", r"(?:[01]\d|2[0-3])"),
    "I": (r"(?:0?[1-9]|1[0-2])", r"(?:0[1-9]|1[0-2])"),
    "M": (r"[0-5]?\d", r"[0-5]\d"),
    "S": (r"(?:[0-5]?\d|6[01])", r"(?:[0-5]\d|6[01])"),
    "f": (r"\d{1,6}", r"\d{6}"),
    "p": (r"(?:am|pm)", r"(?:am|pm)"),
}
_DIRECTIVES["B"] = _DIRECTIVES["b"]
_SENTINELS = placeholders.table("date")
#: Most days a month can have (February in a leap year): 29 February is checked apart.
_MAX_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: The same for the fast path, on 2-digit strings ("01".."12" -> "31", "29"...): equal-width
#: digit strings compare as their numbers do, so no int() is needed.
_MAX_DAY_TEXT = {f"{m:02d}": f"{n:02d}" for m, n in enumerate(_MAX_DAYS) if m}


class _Format(NamedTuple):
    regex: re.Pattern[str]
    precision: int  # 1 year, 2 year-month, 3 full date


def compile_format(fmt: str) -> _Format:
    """Compile one strptime-style format; ValueError names what is wrong with it."""
    parts: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            if i + 1 >= len(fmt):
                msg = f"date format {fmt!r} ends with a lone '%'"
                raise ValueError(msg)
            d = fmt[i + 1]
            i += 2
            if d == "%":
                parts.append("%")
                continue
            if d not in _DIRECTIVES:
                msg = f"date format {fmt!r}: unsupported directive %{d}"
                raise ValueError(msg)
            key = "b" if d == "B" else d
            if key in seen:
                msg = f"date format {fmt!r} repeats %{d}"
                raise ValueError(msg)
            seen.add(key)
            nxt_digit = fmt[i : i + 1] == "%" and fmt[i + 1 : i + 2] in _DIGIT_DIRECTIVES
            parts.append(_DIRECTIVES[d][1 if nxt_digit else 0])
        elif ch.isspace():
            parts.append(r"\s*")
            i += 1
        else:
            parts.append(re.escape(ch.lower()))
            i += 1
    has_month = bool(seen & {"m", "b"})
    if not seen & {"Y", "y"}:
        msg = f"date format {fmt!r} has no year (%Y or %y)"
        raise ValueError(msg)
    if "d" in seen and not has_month:
        msg = f"date format {fmt!r} has a day but no month"
        raise ValueError(msg)
    precision = 3 if "d" in seen else 2 if has_month else 1
    return _Format(re.compile("".join(parts)), precision)


class _Layout(NamedTuple):
    """A full-date format read at fixed positions: the fast path for its usual shape."""

    match: Callable[[str], re.Match[str] | None]  # ASCII digits/literals at fixed places
    year: slice
    month: slice
    day: slice


def fixed_layout(fmt: str) -> _Layout | None:
    """The fixed-width reading of a ``%Y``/``%m``/``%d`` format, or None for other formats.

    A value that matches the layout (4-digit year, 2-digit month and day, the format's
    literals in place) also matches the format's compiled regex, and with the same
    groups: that regex's first attempt gives every variable-width field its widest
    (2-digit) reading, which is the layout's. So the layout decides such a value alone.
    """
    parts: list[str] = []
    at: dict[str, slice] = {}
    pos = i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            d = fmt[i + 1 : i + 2]
            width = {"Y": 4, "m": 2, "d": 2}.get(d)
            if width is None or d in at:
                return None
            parts.append(f"[0-9]{{{width}}}")
            at[d] = slice(pos, pos + width)
            pos += width
            i += 2
        elif ch.isascii() and not ch.isspace():
            parts.append(re.escape(ch.lower()))
            pos += 1
            i += 1
        else:
            return None
    if len(at) != 3:
        return None
    return _Layout(re.compile("".join(parts)).fullmatch, at["Y"], at["m"], at["d"])


def _bound(value: str, name: str) -> dt.date:
    if value == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    msg = f"date option {name!r} must be 'YYYY-MM-DD' or 'today', got {value!r}"
    raise ValueError(msg)


def date_components(canonical: str) -> tuple[int, int | None, int | None]:
    """(year, month, day) of a canonical date; month/day are None when not known.

    >>> date_components("1951-11"), date_components("1951-11-04"), date_components("1951")
    ((1951, 11, None), (1951, 11, 4), (1951, None, None))
    """
    n = len(canonical)
    if n not in (4, 7, 10) or not canonical[:4].isdigit():
        msg = "not a canonical date (YYYY, YYYY-MM or YYYY-MM-DD)"
        raise ValueError(msg)
    year = int(canonical[:4])
    month = int(canonical[5:7]) if n >= 7 else None
    day = int(canonical[8:10]) if n == 10 else None
    return year, month, day


def make_date_normalizer(options: Mapping[str, Any], source: ColumnSource) -> Callable[[str], str]:
    """The normaliser of a ``date`` field."""
    formats: Sequence[_Format] = [compile_format(f) for f in source.date_formats or DEFAULT_FORMATS]
    earliest = _bound(str(options.get("earliest", "1900-01-01")), "earliest")
    latest = _bound(str(options.get("latest", "today")), "latest")
    if earliest > latest:
        msg = "date option 'earliest' is after 'latest'"
        raise ValueError(msg)
    lo, hi = earliest.isoformat(), latest.isoformat()
    century_pivot = latest.year % 100
    century = latest.year - century_pivot
    check = placeholders.check
    safe = placeholders.safe_starts()
    isleap = calendar.isleap
    max_day = _MAX_DAY_TEXT
    # Only the first format may take the fast path: a value it reads was never tried
    # against another format first.
    layout = fixed_layout((source.date_formats or DEFAULT_FORMATS)[0])
    fast_match = layout.match if layout is not None else None
    at_year, at_month, at_day = (
        (layout.year, layout.month, layout.day) if layout is not None else (slice(0),) * 3
    )

    def windowed(canonical: str) -> str:
        """``canonical``, unless it is a sentinel date or outside the validity window."""
        # a year has 4 digits (%y lands at or before 'latest'): 9999 is the year 9999
        if canonical in _SENTINELS or canonical.startswith("9999"):
            raise MissingValue("placeholder", "sentinel_date")
        if not lo[: len(canonical)] <= canonical <= hi[: len(canonical)]:
            raise InvalidValue("date.out_of_range")
        return canonical

    def parse(text: str) -> str:
        """The canonical form of a value, through the formats' regexes in order."""
        for fmt in formats:
            m = fmt.regex.fullmatch(text)
            if m is not None:
                break
        else:
            raise InvalidValue("date.format")
        groups = m.groupdict()
        if groups.get("Y") is not None:
            year = int(groups["Y"])
        else:
            yy = int(groups["y"])
            year = century + yy if yy <= century_pivot else century - 100 + yy
        month = day = 0
        if fmt.precision >= 2:
            name = groups.get("b")
            month = _MONTHS.get(name, 0) if name is not None else int(groups["m"])
            if name is not None and month == 0:
                raise InvalidValue("date.format")
            if not 1 <= month <= 12:
                raise InvalidValue("date.impossible")
        if fmt.precision == 3:
            day = int(groups["d"])
            if (
                year < 1
                or not 1 <= day <= _MAX_DAYS[month]
                or (day == 29 and month == 2 and not isleap(year))
            ):
                raise InvalidValue("date.impossible")
            return windowed(f"{year:04d}-{month:02d}-{day:02d}")
        if fmt.precision == 2:
            return windowed(f"{year:04d}-{month:02d}")
        return windowed(f"{year:04d}")

    def normalize_date(raw: str) -> str:
        text = raw.strip().lower()
        if text[:2] not in safe:  # inline pre-check: most values need no check() call
            check(text)
        if fast_match is None or fast_match(text) is None:
            return parse(text)
        # The fast path, as parse() would decide but on the text: fixed-width ASCII digit
        # fields are already zero-padded, and compare as their numbers do.
        year, month, day = text[at_year], text[at_month], text[at_day]
        top = max_day.get(month)  # None: month 00 or 13..99
        if (
            top is None
            or year == "0000"
            or not "01" <= day <= top
            or (day == "29" and month == "02" and not isleap(int(year)))
        ):
            raise InvalidValue("date.impossible")
        return windowed(f"{year}-{month}-{day}")

    return normalize_date
