"""Segment-bit allocation: exact, deterministic, largest remainders first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hashmatch.schema.defaults import allocate_bits


def test_leftover_bits_go_to_the_largest_fractions_then_schema_order() -> None:
    # 100 bits over weights 1,1,1: 33.33 each; one leftover bit, to the first (tie).
    assert allocate_bits(100, [None] * 3, [1.0] * 3) == [34, 33, 33]
    # weights 1, 2: 33.33 and 66.67 -> the larger fraction (second) gets the bit.
    assert allocate_bits(100, [None, None], [1.0, 2.0]) == [33, 67]


def test_explicit_bits_are_kept() -> None:
    assert allocate_bits(1024, [256, None, None], [9.0, 1.0, 3.0]) == [256, 192, 576]


def test_float_weights_do_not_depend_on_float_rounding() -> None:
    # 0.1 + 0.2 != 0.3 in floating point; the exact rational split still sums exactly.
    sizes = allocate_bits(1000, [None] * 3, [0.1, 0.2, 0.3])
    assert sum(sizes) == 1000 and sizes == [167, 333, 500]


@given(
    clk=st.integers(1, 1024).map(lambda n: n * 64),
    weights=st.lists(st.floats(0.001, 1000), min_size=1, max_size=12),
)
def test_allocation_fills_the_clk(clk: int, weights: list[float]) -> None:
    sizes = allocate_bits(clk, [None] * len(weights), weights)
    assert sum(sizes) == clk
    exact = [clk * w / sum(weights) for w in weights]
    assert all(abs(s - e) < 1 + 1e-9 for s, e in zip(sizes, exact, strict=True))
