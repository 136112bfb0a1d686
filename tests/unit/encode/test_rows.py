"""The encoder's compiled row loops (``hashmatch.encode._rows``) against plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hashmatch.encode._rows import factorize, lookup_lines, or_fields, qgram_codes, set_bits
from hashmatch.encode.columns import pack_rows, unique_rows, unpack_rows

_INT64 = st.integers(-(2**63), 2**63 - 1)


@given(
    values=hnp.arrays(np.int64, st.integers(0, 300), elements=st.one_of(st.integers(-3, 3), _INT64))
)
def test_factorize_numbers_values_in_order_of_first_appearance(values) -> None:
    distinct, codes = factorize(values)
    assert codes.dtype == np.intp and distinct.dtype == np.int64
    np.testing.assert_array_equal(distinct[codes], values)
    assert len(distinct) == len(set(values.tolist()))
    firsts = [values.tolist().index(v) for v in distinct.tolist()]
    assert firsts == sorted(firsts)


def test_factorize_of_nothing_is_empty() -> None:
    distinct, codes = factorize(np.array([], dtype=np.int64))
    assert distinct.shape == (0,) and codes.shape == (0,)


@given(
    rows=st.integers(0, 40),
    widths=st.lists(st.integers(0, 3), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_or_fields_equals_numpy_gathers(rows: int, widths: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    total = sum(widths) + 1
    out = rng.integers(0, 2**63, (rows, total), dtype=np.int64).astype(np.uint64)
    expected = out.copy()
    firsts, tables, codes = [], [], []
    start = 0
    for width in widths:
        table = rng.integers(0, 2**63, (5, width), dtype=np.int64).astype(np.uint64)
        index = rng.integers(0, 5, rows).astype(np.intp)
        expected[:, start : start + width] |= table[index]
        firsts.append(start)
        tables.append(table)
        codes.append(index)
        start += width
    or_fields(out, firsts, tables, np.stack(codes).reshape(len(widths), rows))
    np.testing.assert_array_equal(out, expected)


def test_or_fields_refuses_codes_and_words_out_of_range() -> None:
    out = np.zeros((2, 2), dtype=np.uint64)
    table = np.ones((3, 1), dtype=np.uint64)
    with pytest.raises(IndexError, match="outside its table"):
        or_fields(out, [0], [table], np.array([[0, 3]], dtype=np.intp))
    with pytest.raises(IndexError, match="outside its table"):
        or_fields(out, [0], [table], np.array([[-1, 0]], dtype=np.intp))
    with pytest.raises(ValueError, match="outside out"):
        or_fields(out, [2], [table], np.array([[0, 0]], dtype=np.intp))
    with pytest.raises(ValueError, match="one first word"):
        or_fields(out, [0, 1], [table], np.array([[0, 0]], dtype=np.intp))
    assert not out.any()  # nothing written before a refusal


@given(
    ids=hnp.arrays(
        np.intp, st.tuples(st.integers(0, 30), st.integers(1, 4)), elements=st.integers(0, 6)
    ),
    base=st.sampled_from([7, 65537]),
)
def test_unique_rows_packs_and_unpacks_exactly(ids, base: int) -> None:
    packed = pack_rows(ids, base)
    if base ** ids.shape[1] >= 2**63:
        assert packed is None
    else:
        assert packed is not None
        np.testing.assert_array_equal(unpack_rows(packed, base, ids.shape[1]), ids)
    combos, inverse = unique_rows(ids, base)
    np.testing.assert_array_equal(combos[inverse], ids)
    assert len(combos) == len({tuple(r) for r in ids.tolist()})


@given(
    rows=st.integers(0, 20),
    words=st.integers(1, 3),
    k=st.integers(0, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_set_bits_equals_numpy_or_at(rows: int, words: int, k: int, seed: int) -> None:
    positions = np.random.default_rng(seed).integers(0, 64 * words, (rows, k), dtype=np.int64)
    expected = np.zeros((rows, words), dtype=np.uint64)
    bit = positions.ravel()
    masks = np.left_shift(np.uint64(1), (bit % 64).astype(np.uint64))
    np.bitwise_or.at(expected, (np.repeat(np.arange(rows), k), bit // 64), masks)
    got = np.zeros((rows, words), dtype=np.uint64)
    set_bits(got, positions)
    np.testing.assert_array_equal(got, expected)


def test_set_bits_refuses_positions_outside_the_row() -> None:
    rows = np.zeros((1, 1), dtype=np.uint64)
    for bad in (64, -1):
        with pytest.raises(IndexError, match="outside the row"):
            set_bits(rows, np.array([[0, bad]], dtype=np.int64))
    assert not rows.any()


def test_lookup_lines_are_hex_comma_id_crlf() -> None:
    tokens = np.arange(32, dtype=np.uint8).reshape(2, 16)
    got = lookup_lines(tokens, ["rec-1", ""])
    expected = f"{tokens[0].tobytes().hex()},rec-1\r\n{tokens[1].tobytes().hex()},\r\n"
    assert got == expected.encode("ascii")
    assert lookup_lines(np.zeros((0, 16), dtype=np.uint8), []) == b""


@pytest.mark.parametrize("rid", ["a,b", 'a"b', "a\rb", "a\nb", "é", "a\u2028"])
def test_lookup_lines_leave_ids_needing_quotes_or_unicode_to_the_csv_module(rid: str) -> None:
    tokens = np.zeros((2, 16), dtype=np.uint8)
    assert lookup_lines(tokens, ["plain", rid]) is None


def test_lookup_lines_refuse_a_count_mismatch() -> None:
    with pytest.raises(ValueError, match="one token per id"):
        lookup_lines(np.zeros((1, 16), dtype=np.uint8), ["a", "b"])


@given(
    values=st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=9), max_size=8),
    q=st.integers(1, 7),
    pad=st.integers(0, 6),
)
def test_qgram_codes_are_the_big_endian_grams_of_the_padded_values(
    values: list[str], q: int, pad: int
) -> None:
    codes, counts = qgram_codes(values, q, pad)
    expected: list[int] = []
    for value, count in zip(values, counts.tolist(), strict=True):
        padded = ("_" * pad + value + "_" * pad).encode("ascii")
        grams = [int.from_bytes(padded[i : i + q], "big") for i in range(len(padded) - q + 1)]
        assert count == len(grams)
        expected += grams
    assert codes.dtype == np.int64 and codes.tolist() == expected


def test_qgram_codes_refuse_what_they_cannot_read() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        qgram_codes(["caf\u00e9"], 2, 1)
    with pytest.raises(ValueError, match="q must be"):
        qgram_codes(["abc"], 8, 1)
