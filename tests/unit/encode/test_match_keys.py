"""Match-key tokens from stable part ids equal the reference token, chunk after chunk,
including when a part renumbers its ids (bounded memory)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode.match_keys import MatchKeyTokens, PartValues
from hashmatch.encode.tokens import MISSING_TOKEN, match_key_token, transform

KEY = bytes(range(32))
_NAME = st.one_of(st.none(), st.sampled_from(["ann", "bob", "cy", "van dyke", "o brien", "1"]))
_DATE = st.one_of(st.none(), st.sampled_from(["1951-11-04", "1951", "1962-01", "2001-02-03"]))


def _expected(names: list[str | None], dates: list[str | None]) -> list[bytes]:
    out = []
    for name, date in zip(names, dates, strict=True):
        parts = [
            None if name is None else transform(name, "soundex"),
            None if date is None else transform(date, "year"),
        ]
        out.append(MISSING_TOKEN if None in parts else match_key_token(KEY, parts))  # type: ignore[arg-type]
    return out


@given(
    chunks=st.lists(
        st.lists(st.tuples(_NAME, _DATE), min_size=0, max_size=10), min_size=1, max_size=4
    ),
    limit=st.sampled_from([2, 3, 1 << 16]),
)
def test_tokens_equal_the_reference_across_chunks(chunks, limit: int) -> None:
    names, dates = PartValues("soundex", limit), PartValues("year", limit)
    key = MatchKeyTokens(KEY, [names, dates], limit=limit)
    for rows in chunks:
        name_values = [n for n, _ in rows]
        date_values = [d for _, d in rows]
        # per distinct value, as the encoder gives them: here every row is its own value
        ids = np.stack([names.ids(name_values), dates.ids(date_values)], axis=1).reshape(
            len(rows), 2
        )
        got = [bytes(t) for t in key.tokens(ids)]
        assert got == _expected(name_values, date_values)


def test_renumbering_bumps_the_generation() -> None:
    part = PartValues(None, limit=2)
    first = part.ids(["a", "b"]).tolist()
    assert first == [0, 1] and part.generation == 0
    assert part.ids(["c"]).tolist() == [0] and part.generation == 1
    assert part.values == ["c"]


@given(
    chunks=st.lists(
        st.lists(st.tuples(_NAME, _NAME, _DATE, _DATE), min_size=0, max_size=8),
        min_size=1,
        max_size=3,
    )
)
def test_keys_too_wide_to_pack_still_equal_the_reference(chunks) -> None:
    # Four parts of up to 2**16 values do not fit one int64: memo keys are tuples then.
    parts = [PartValues(None), PartValues("soundex"), PartValues(None), PartValues("year")]
    key = MatchKeyTokens(KEY, parts)
    for rows in chunks:
        columns = [[row[j] for row in rows] for j in range(4)]
        ids = np.stack([p.ids(c) for p, c in zip(parts, columns, strict=True)], axis=1)
        got = [bytes(t) for t in key.tokens(ids.reshape(len(rows), 4))]
        expected = []
        hows = [None, "soundex", None, "year"]
        for row in rows:
            values = [
                None if v is None else transform(v, h) for v, h in zip(row, hows, strict=True)
            ]
            whole = None not in values
            expected.append(match_key_token(KEY, values) if whole else MISSING_TOKEN)  # type: ignore[arg-type]
        assert got == expected
