"""Mapping + normalisers over a chunk: outcomes with reason codes, stats, required rejects."""

from __future__ import annotations

import numpy as np

from hashmatch.encode.columns import factorise, join_factors
from hashmatch.encode.records import FieldReader, FieldStats, required_rejects
from hashmatch.schema.model import ColumnSource, Field, ResolvedField


def _reader(
    ftype: str, indices: tuple[int, ...], *, required: bool = False, **src: object
) -> FieldReader:
    cols = tuple(f"c{i}" for i in indices)
    source = ColumnSource(columns=cols, **src)  # type: ignore[arg-type]
    return FieldReader(Field("f", ftype, required=required), ResolvedField("f", source, indices))


def _columns(rows: list[list[str]]) -> list[tuple[str, ...]]:
    return list(zip(*rows, strict=True))


def test_outcomes_and_stats_per_distinct_value() -> None:
    r = _reader("date", (0,), date_formats=("%d.%m.%Y",))
    rows = [["04.11.1951"], ["31.02.1951"], [""], ["04.11.1951"], ["N/A"], ["1951-11-04"]]
    col = r.read(_columns(rows))
    assert col.codes.tolist() == [0, 1, 2, 0, 3, 4]
    assert col.valid.tolist() == [True, False, False, True, False, False]
    assert col.outcomes[0].canonical == "1951-11-04"
    s = col.stats()
    assert (s.rows, s.valid, s.filled) == (6, 2, 5)
    assert s.invalid == {"date.impossible": 1, "date.format": 1}
    assert s.missing["empty"] == 1
    assert sum(s.missing.values()) == 2
    only_first = col.stats(np.array([True, False, False, False, False, False]))
    assert (only_first.rows, only_first.valid) == (1, 1)


def test_no_outcome_holds_the_raw_value() -> None:
    r = _reader("date", (0,))
    col = r.read(_columns([["31.02.1951"], ["N/A"]]))
    for o in col.outcomes:
        assert o.canonical is None and "1951" not in o.label and "N/A" not in o.label


def test_several_columns_are_joined_with_a_space() -> None:
    r = _reader("address", (0, 2))
    columns = _columns([["12", "x", "high st"]])
    joined = join_factors([factorise(columns[i]) for i in r.indices])  # what read() normalises
    assert joined.values == ["12 high st"]
    assert r.read(columns).outcomes[0].canonical == "12 high street"


def test_required_field_rejects_with_row_number_column_and_reason() -> None:
    req = _reader("name", (0,), required=True)
    opt = _reader("date", (1,))
    rows = [["ann", "bad"], ["", "1951-01-01"], ["bob", ""]]
    cols = [req.read(_columns(rows)), opt.read(_columns(rows))]
    keep, rejects = required_rejects([req, opt], cols, [10, 11, 12])
    assert keep.tolist() == [True, False, True]
    assert [(r.row, r.column, r.reason) for r in rejects] == [(11, "c0", "required.empty")]


def test_absent_field_stats() -> None:
    s = FieldStats.for_absent(5)
    assert (s.rows, s.filled, s.valid, s.absent) == (5, 0, 0, True)


def test_a_batch_fast_path_gives_the_outcomes_of_the_normaliser() -> None:
    """Phones have a compiled batch path: over more values than one batch slice, and over
    two chunks (the second settles what the first taught), the outcomes are those of the
    normaliser alone, placeholders and invalid numbers included."""
    rng = np.random.default_rng(3)
    shapes = ["({a}) {e}-{l}", "+1 {a} {e} {l}", "{a}.{e}.{l}", "{a}{e}{l} x9", " n/a ", ""]
    cells = [
        shapes[int(rng.integers(len(shapes)))].format(
            a=rng.choice(["206", "212", "415", "888", "911"]),
            e=f"{int(rng.integers(1000)):03d}",
            l=f"{int(rng.integers(10000)):04d}",
        )
        for _ in range(6000)
    ]
    fast = _reader("phone", (0,), phone_region="US")
    slow = _reader("phone", (0,), phone_region="US")
    assert fast._batch is not None
    slow._batch = None
    for chunk in (cells[:3000], cells[3000:]):
        got, want = fast.read([chunk]), slow.read([chunk])
        assert list(got.outcomes) == list(want.outcomes)
        assert got.codes.tolist() == want.codes.tolist()
    assert {o.kind for o in got.outcomes} == {"valid", "missing", "invalid"}
