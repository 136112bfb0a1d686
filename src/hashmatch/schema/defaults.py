"""Defaults and limits of the linkage schema, and the rules that resolve what is left unset.

Everything the loader fills in lives here, so the documented defaults
(docs/guides/schema.md) and the resolved schema (and hence its fingerprint) cannot drift
apart. Resolution is exact integer/rational arithmetic: the same schema gives the same
segment layout on every machine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

#: Total CLK length when ``[clk] bits`` is not given.
DEFAULT_CLK_BITS = 1024
CLK_BITS_MIN, CLK_BITS_MAX, CLK_BITS_STEP = 64, 65536, 64

#: Bloom-encoding defaults and the ranges the validator accepts.
DEFAULT_Q = 2
DEFAULT_PADDING = True
DEFAULT_WEIGHT = 1.0
Q_MIN, Q_MAX = 1, 5
K_MIN, K_MAX = 1, 256
#: A segment smaller than this holds too few bits to tell values apart.
SEGMENT_BITS_MIN = 16
WEIGHT_MAX = 1000.0

#: Field and match-key names: lower-case identifiers, safe as column and file names.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")

#: Typical number of features (q-grams, date components) one value of each type yields;
#: the default ``k`` aims at roughly 30% fill of a field's segment for a typical value.
EXPECTED_FEATURES: Mapping[str, int] = {
    "name": 7,
    "email": 20,
    "phone": 11,
    "date": 3,
    "postcode": 5,
    "address": 18,
    "gender": 1,
    "text": 12,
    "id": 9,
}

#: Match-key transforms by the field types they make sense for (None = any type but date).
TRANSFORM_TYPES: Mapping[str, frozenset[str] | None] = {
    "year": frozenset({"date"}),
    "month": frozenset({"date"}),
    "day": frozenset({"date"}),
    "soundex": frozenset({"name"}),
    "initial": None,
    "prefix3": None,
}


def option_specs() -> Mapping[str, Mapping[str, Any]]:
    """The normaliser options per field type (``hashmatch.normalize.OPTION_SPECS``).

    Imported on use: ``hashmatch.normalize`` itself imports the schema model.
    """
    from hashmatch.normalize import OPTION_SPECS

    return OPTION_SPECS


def default_k(bits: int, field_type: str) -> int:
    """Bit positions per feature for a segment of ``bits`` bits (about 30% fill)."""
    k = round(bits * math.log(2) / (2 * EXPECTED_FEATURES[field_type]))
    return min(K_MAX, max(K_MIN, k))


def allocate_bits(
    clk_bits: int, explicit: Sequence[int | None], weights: Sequence[float], *, unit: int = 1
) -> list[int]:
    """Split ``clk_bits`` among the bloom fields (parallel lists, in schema order).

    Fields with ``explicit`` bits keep them; the rest of the CLK is shared by the others
    in proportion to their ``weights``: floor, then the leftover bits go one each to the
    fields with the largest fractional parts (ties: schema order). Exact rational
    arithmetic, so the layout never depends on floating-point rounding. The caller
    validates that the explicit sizes fit and that every share is large enough.

    With ``unit`` > 1 (2 for balanced filters, which need even segments) the shared bits
    are dealt in whole units; any remainder (only when an explicit size is not a multiple
    of ``unit``, which the caller reports) goes to the last shared field.
    """
    out = [bits or 0 for bits in explicit]
    shared = [i for i, bits in enumerate(explicit) if bits is None]
    remaining = clk_bits - sum(out)
    if not shared or remaining <= 0:
        return out
    units, rest = divmod(remaining, unit)
    total = sum(Fraction(weights[i]) for i in shared)
    quota = {i: units * Fraction(weights[i]) / total for i in shared}
    for i in shared:
        out[i] = math.floor(quota[i])
    leftover = units - sum(out[i] for i in shared)
    by_fraction = sorted(shared, key=lambda i: (-(quota[i] - math.floor(quota[i])), i))
    for i in by_fraction[:leftover]:
        out[i] += 1
    out = [out[i] * unit if i in shared else out[i] for i in range(len(out))]
    out[shared[-1]] += rest
    return out
