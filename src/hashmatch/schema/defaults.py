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
    clk_bits: int,
    explicit: Sequence[int | None],
    weights: Sequence[float],
    *,
    unit: int = 1,
    alike: Sequence[tuple[int, int]] = (),
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

    ``alike`` lists pairs of fields that must come out the same size (a swap pair): when
    they share with equal weights, a leftover unit is never split between them; it goes
    to the next field in line instead.

    >>> allocate_bits(100, [None] * 3, [2.0, 2.0, 1.0])
    [40, 40, 20]
    >>> allocate_bits(101, [None] * 3, [1.0, 1.0, 1.0]), allocate_bits(
    ...     101, [None] * 3, [1.0, 1.0, 1.0], alike=[(0, 1)])
    ([34, 34, 33], [34, 34, 33])
    >>> allocate_bits(100, [None] * 3, [1.0, 1.0, 1.0], alike=[(0, 1)])
    [33, 33, 34]
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
    partner = {
        i: j
        for a, b in alike
        if a in quota and b in quota and quota[a] == quota[b]
        for i, j in ((a, b), (b, a))
    }
    for i in by_fraction:
        if leftover == 0:
            break
        if i in partner:  # both or neither
            if out[i] > math.floor(quota[i]) or leftover < 2:
                continue
            out[partner[i]] += 1
            leftover -= 1
        out[i] += 1
        leftover -= 1
    # A unit left over because only half a pair could take it: to the first other field
    # in line (or, if only pairs share the CLK, to the pair's first field: then they
    # cannot come out alike and the schema check says so).
    takers = [i for i in by_fraction if i not in partner] or by_fraction
    for k in range(leftover):
        out[takers[k % len(takers)]] += 1
    out = [out[i] * unit if i in shared else out[i] for i in range(len(out))]
    out[shared[-1]] += rest
    return out
