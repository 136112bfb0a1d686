"""The normalisers' fast paths decide exactly as the general paths they skip.

Each fast path (plain ASCII words, fixed-width dates, the inline placeholder pre-check)
is compared with the general rule on the values that sit at its edges.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hashmatch.normalize import (
    ColumnSource,
    InvalidValue,
    MissingValue,
    make_normalizer,
    placeholders,
)
from hashmatch.normalize import dates as dates_module
from hashmatch.normalize._base import APOSTROPHES_RE, batch_path, fold
from hashmatch.normalize.address import _NON_ALNUM_RE, _expand
from hashmatch.normalize.names import _NAME_PLACEHOLDERS, _canonical_name, _folded


def _outcome(norm, raw: str) -> tuple[str, str | None, str | None]:
    try:
        return ("valid", norm(raw), None)
    except MissingValue as exc:
        return ("missing", exc.reason, exc.pattern)
    except InvalidValue as exc:
        return ("invalid", exc.reason, None)


# --- dates: the fixed-width layout of the first format ------------------------------------


@pytest.mark.parametrize(
    ("fmt", "layout"),
    [
        ("%Y%m%d", (slice(0, 4), slice(4, 6), slice(6, 8))),
        ("%Y-%m-%d", (slice(0, 4), slice(5, 7), slice(8, 10))),
        ("%d/%m/%Y", (slice(6, 10), slice(3, 5), slice(0, 2))),
        ("%mT%d%Y", (slice(5, 9), slice(0, 2), slice(3, 5))),
    ],
)
def test_fixed_layout_positions(fmt: str, layout: tuple[slice, slice, slice]) -> None:
    found = dates_module.fixed_layout(fmt)
    assert found is not None
    assert (found.year, found.month, found.day) == layout


@pytest.mark.parametrize(
    "fmt", ["%y%m%d", "%Y%m", "%Y", "%d %m %Y", "%d-%b-%Y", "%Y%%%m%d", "%Y%m%d%H", "%Y%m%d%"]
)
def test_formats_without_a_fixed_layout(fmt: str) -> None:
    assert dates_module.fixed_layout(fmt) is None


_YEARS = ["0000", "0001", "1111", "1899", "1900", "1901", "2000", "2023", "2024", "2100", "9999"]
_MONTHS = [f"{m:02d}" for m in range(14)]
_DAYS = [f"{d:02d}" for d in (0, 1, 9, 10, 28, 29, 30, 31, 32)]


@pytest.mark.parametrize(
    ("formats", "joiner"),
    [
        (("%Y%m%d",), lambda y, m, d: y + m + d),
        ((), lambda y, m, d: f"{y}-{m}-{d}"),  # default: ISO first, then compact
        (("%d.%m.%Y", "%Y"), lambda y, m, d: f"{d}.{m}.{y}"),
    ],
)
def test_date_fast_path_agrees_with_the_regex_path(monkeypatch, formats, joiner) -> None:
    """Every calendar edge (year 0, month 0/13, day 0/29/30/31/32, leap rules, sentinels,
    window) gets the same outcome with and without the fixed-width fast path."""
    options = {"earliest": "1800-01-01", "latest": "2099-12-31"}
    source = ColumnSource(("dob",), date_formats=formats)
    fast = make_normalizer("date", options, source, memo=False)
    monkeypatch.setattr(dates_module, "fixed_layout", lambda fmt: None)
    slow = make_normalizer("date", options, source, memo=False)
    values = [joiner(*p) for p in itertools.product(_YEARS, _MONTHS, _DAYS)]
    values += ["１９９９０１０１", "1999-1-1", " 19990101 ", "1999010", "199901011", "1999"]
    for raw in values:
        assert _outcome(fast, raw) == _outcome(slow, raw), raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20000229", ("valid", "2000-02-29", None)),
        ("20240229", ("valid", "2024-02-29", None)),
        ("19000229", ("invalid", "date.impossible", None)),
        ("20230229", ("invalid", "date.impossible", None)),
        ("19990431", ("invalid", "date.impossible", None)),
        ("19991301", ("invalid", "date.impossible", None)),
        ("00010101", ("invalid", "date.out_of_range", None)),
        ("00001231", ("invalid", "date.impossible", None)),
        ("00000000", ("missing", "placeholder", "zeros")),
        ("99991231", ("missing", "placeholder", "sentinel_date")),
        ("99990615", ("missing", "placeholder", "sentinel_date")),  # any day of year 9999
        ("19000101", ("missing", "placeholder", "sentinel_date")),
        # non-ASCII digits: no fast path; the (unfolded) pre-check finds no [a-z0-9]
        ("１９９９０１０１", ("missing", "placeholder", "punctuation")),
    ],
)
def test_compact_dates(raw: str, expected: tuple[str, str | None, str | None]) -> None:
    norm = make_normalizer("date", {}, ColumnSource(("dob",), date_formats=("%Y%m%d",)))
    assert _outcome(norm, raw) == expected


# --- address / text / id: plain ASCII words skip the substitutions ------------------------

_WORDS = ["st", "dr", "n", "apt", "e", "rue", "main", "12", "12b", "unit", "ave", "na", "0", "x"]
_ADDRESS = st.one_of(
    st.lists(st.sampled_from(_WORDS), max_size=5).map(" ".join),
    st.text(alphabet="aSt 1\t-'`.é/x0N", max_size=16),
    # longer than placeholders' length cut-off until its whitespace runs are collapsed
    st.builds(
        lambda words, pad: pad.join(words),
        st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3),
        st.sampled_from([" " * 80, "\t" * 75, " \t" * 40]),
    ),
)


def _reference_text(raw: str) -> str:
    folded = fold(raw.strip())
    placeholders.check(folded)
    canonical = " ".join(_NON_ALNUM_RE.sub(" ", APOSTROPHES_RE.sub("", folded)).split())
    placeholders.check(canonical)
    return canonical


def _reference_address(raw: str) -> str:
    folded = fold(raw.strip())
    placeholders.check(folded)
    tokens = _expand(_NON_ALNUM_RE.sub(" ", APOSTROPHES_RE.sub("", folded)).split())
    canonical = " ".join(tokens)
    placeholders.check(canonical)
    return canonical


def _reference_id(raw: str) -> str:
    folded = fold(raw.strip())
    placeholders.check(folded)
    return _NON_ALNUM_RE.sub("", folded)


_ADDRESS_NORM = make_normalizer("address", {}, ColumnSource(("a",)), memo=False)
_TEXT_NORM = make_normalizer("text", {}, ColumnSource(("a",)), memo=False)
_ID_NORM = make_normalizer("id", {}, ColumnSource(("a",)), memo=False)


@given(_ADDRESS)
def test_address_fast_path_agrees_with_the_rule(raw: str) -> None:
    assert _outcome(_ADDRESS_NORM, raw) == _outcome(_reference_address, raw)


_ADDRESS_PLAIN = make_normalizer(
    "address", {"abbreviations": False}, ColumnSource(("a",)), memo=False
)


@given(_ADDRESS)
@example("12  High \x1c Road ")
@example("N A")
@example("xx x")
@example("0 00")
@example("Un Known")
def test_address_batch_path_settles_only_with_the_normalisers_answer(raw: str) -> None:
    for norm in (_ADDRESS_NORM, _ADDRESS_PLAIN):
        batch = batch_path(norm)
        assert batch is not None
        got = batch([raw, raw.upper()])
        for value, canonical in zip([raw, raw.upper()], got, strict=True):
            if canonical is not None:
                assert _outcome(norm, value) == ("valid", canonical, None)


def test_address_batch_path_settles_plain_words_only() -> None:
    batch = batch_path(_ADDRESS_NORM)
    assert batch is not None
    left = ["12 High St", "Apt. 4", "N/A", "Unknown", "b\u00e4ck 1", ""]
    assert batch([" 12  High\tRoad", *left]) == ["12 high road"] + [None] * len(left)
    plain = batch_path(_ADDRESS_PLAIN)
    assert plain is not None and plain(["12 High St"]) == ["12 high st"]


@given(_ADDRESS)
def test_text_and_id_fast_paths_agree_with_the_rule(raw: str) -> None:
    assert _outcome(_TEXT_NORM, raw) == _outcome(_reference_text, raw)
    assert _outcome(_ID_NORM, raw) == _outcome(_reference_id, raw)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("12 St Kilda Rd", "12 saint kilda road"),  # a rewritten token: _expand runs
        ("Apt E 3 Main St", "apartment e 3 main street"),
        ("8 stanley street miami", "8 stanley street miami"),  # nothing to rewrite
        ("8  stanley\tstreet", "8 stanley street"),  # any whitespace run is one space
    ],
)
def test_address_examples(raw: str, canonical: str) -> None:
    assert _ADDRESS_NORM(raw) == canonical


@pytest.mark.parametrize(
    "raw",
    ["n" + " " * 80 + "a", "unknown" + "\t" * 80, "x" + " " * 80 + "x x", "0" + " " * 80 + "0"],
)
def test_long_padded_placeholders(raw: str) -> None:
    """Whitespace runs put these past placeholders' length cut-off until collapsed."""
    assert _outcome(_TEXT_NORM, raw) == _outcome(_reference_text, raw)
    assert _outcome(_TEXT_NORM, raw)[0] == "missing"
    assert _outcome(_ADDRESS_NORM, raw) == _outcome(_reference_address, raw)


# --- names: one plain word ----------------------------------------------------------------


@pytest.mark.parametrize("order", ["auto", "first_last", "last_first"])
@pytest.mark.parametrize(
    "raw", ["Smith", "st", "STE", "van", "de", "mr", "jr", "iii", "Lord", "unknown", "na", "x"]
)
def test_single_word_name_agrees_with_the_general_path(raw: str, order: str) -> None:
    def reference(value: str) -> str:
        canonical = _canonical_name(_folded(value), order)  # type: ignore[arg-type]
        placeholders.check(canonical, _NAME_PLACEHOLDERS)
        return canonical

    norm = make_normalizer("name", {}, ColumnSource(("n",), name_order=order), memo=False)
    assert _outcome(norm, raw) == _outcome(reference, raw)


# --- the inline placeholder pre-check -----------------------------------------------------


@given(
    st.text(alphabet="abnoux0 -./'é", max_size=10),
    st.sampled_from([None, _NAME_PLACEHOLDERS]),
)
def test_safe_starts_imply_no_placeholder(folded: str, extra: dict[str, str] | None) -> None:
    if folded[:2] in placeholders.safe_starts(extra):
        placeholders.check(folded, extra)  # raises nothing
        assert placeholders.placeholder_rule(folded, extra) is None


def test_safe_starts_exclude_every_rule_start() -> None:
    safe = placeholders.safe_starts(_NAME_PLACEHOLDERS)
    for key in [*placeholders.table("any"), *_NAME_PLACEHOLDERS, "00", "xx"]:
        assert key[:2] not in safe


def test_make_normalizer_without_memo_gives_the_same_outcomes() -> None:
    source = ColumnSource(("a",))
    memo, plain = (
        make_normalizer("text", {}, source),
        make_normalizer("text", {}, source, memo=False),
    )
    for raw in ["  Main St ", "N/A", "", "Main St"]:
        assert _outcome(memo, raw) == _outcome(plain, raw)
