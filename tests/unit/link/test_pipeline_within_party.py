"""The stricter cut for within-party (dedup) pairs under an automatic threshold."""

from __future__ import annotations

import pytest

from hashmatch.link.pipeline import WITHIN_PARTY_MARGIN, within_party_threshold


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.5, 0.5 + WITHIN_PARTY_MARGIN),
        (0.64, 0.64 + WITHIN_PARTY_MARGIN),
        (0.8, 0.95),  # capped: an identical-record duplicate must still qualify
        (0.97, 0.97),  # never below the cross-party threshold
    ],
)
def test_within_party_threshold(threshold: float, expected: float) -> None:
    assert within_party_threshold(threshold) == pytest.approx(expected)
