"""Label-free quality estimates from the match probabilities of the candidates.

With a calibrated probability ``p`` per candidate (the Fellegi-Sunter posterior,
:mod:`hashmatch.link.fellegi_sunter`), all candidates hold ``sum(p)`` true matches in
expectation (fastLink's FDR/FNR estimates), computed over the distinct comparison
patterns of each party pair with their counts. A link's output is judged the way labels
would judge it, pair by pair: every two records it puts in one entity are a link,
whether or not they were compared as candidates (two records joined through a third).
So, with no labels, scoring each such pair's own probability ``q``::

    precision = mean(q)  over the pairs of records sharing an output entity
    recall    = sum(q) / sum(p over all candidates)

One-to-one solving and entity merging are in it, since it is taken on what they left.
One limit, said where the estimate is shown: matches blocking never proposed are not
counted (recall is relative to the matches among the candidates). Taken on the
candidates at or above the threshold instead (as before, and as the curve still is),
recall ran 0.04-0.05 above the truth on the synthetic sets, the pairs one-to-one solving
drops counted as found (benchmarks/README.md, "Label-free estimates on the output").

The curve against the threshold is the candidates' (before solving), with::

    precision(t) = sum_{p >= t} p / count(p >= t)
    recall(t)    = sum_{p >= t} p / sum_all p
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices

__all__ = ["CURVE_THRESHOLDS", "LINKED_PAIRS_CAP", "estimate_quality", "linked_pairs"]

#: Thresholds (probabilities) at which the curve is reported.
CURVE_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
#: The output's record pairs scored for the estimate at most; above it, an even sample
#: (an entity of n records holds n(n-1)/2 pairs).
LINKED_PAIRS_CAP = 5_000_000


def linked_pairs(
    entities: Sequence[npt.NDArray[np.int64]], cap: int = LINKED_PAIRS_CAP
) -> tuple[tuple[Indices, Indices, Indices, Indices], int]:
    """Every pair of records sharing an entity (``entities[p][row]``: the entity number
    of each row of party ``p``) as ``(party a, row i, party b, row j)`` with ``a <= b``,
    and how many there are; above ``cap`` pairs an even sample of about ``cap`` of them.

    >>> import numpy as np
    >>> (a, i, b, j), n = linked_pairs([np.array([0, 1]), np.array([1, 0, 1])])
    >>> n, list(zip(a.tolist(), i.tolist(), b.tolist(), j.tolist()))
    (4, [(0, 0, 1, 1), (0, 1, 1, 0), (0, 1, 1, 2), (1, 0, 1, 2)])
    """
    none = np.zeros(0, np.int64)  # (so that no parties concatenate too)
    entity = np.concatenate([none, *(np.asarray(e, np.int64) for e in entities)])
    party = np.concatenate([none, *(np.full(len(e), k, np.int64) for k, e in enumerate(entities))])
    row = np.concatenate([none, *(np.arange(len(e), dtype=np.int64) for e in entities)])
    order = np.lexsort((row, party, entity))
    entity, party, row = entity[order], party[order], row[order]
    # each record pairs with the records after it in its entity
    group = np.cumsum(np.r_[True, entity[1:] != entity[:-1]]) - 1
    last = np.flatnonzero(np.r_[entity[1:] != entity[:-1], True])  # of each entity
    after = last[group] - np.arange(len(entity))
    total = int(after.sum())
    first = np.repeat(np.arange(len(entity)), after)
    offset = np.arange(total) - np.repeat(np.cumsum(after) - after, after)
    second = first + 1 + offset
    if total > cap:
        keep = np.arange(0, total, -(-total // cap))
        first, second = first[keep], second[keep]
    return (party[first], row[first], party[second], row[second]), total


def estimate_quality(
    groups: Iterable[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]],
    threshold: float,
    linked: tuple[npt.NDArray[np.float32], int] | None = None,
    curve_at: Sequence[float] = CURVE_THRESHOLDS,
) -> dict[str, Any]:
    """``{"precision", "recall", "f1", "basis", "curve": [{"threshold", "precision",
    "recall"}]}`` from ``(probability, count)`` arrays of candidate patterns (one group
    per party pair) and, for the headline figures, ``linked``: the probabilities of the
    output's record pairs (:func:`linked_pairs`) and how many pairs they stand for
    (without it, the candidates at or above ``threshold`` stand in for the output).

    Example
    -------
    >>> import numpy as np
    >>> p = np.array([0.99, 0.5, 0.01], np.float32); n = np.array([10, 2, 100])
    >>> q = estimate_quality([(p, n)], 0.5)
    >>> round(q["precision"], 3), round(q["recall"], 3), q["basis"]
    (0.908, 0.916, 'candidates')
    >>> q = estimate_quality([(p, n)], 0.5, (np.full(10, 0.99, np.float32), 10))
    >>> round(q["precision"], 3), round(q["recall"], 3), q["basis"]
    (0.99, 0.832, 'output')
    """
    parts = list(groups)
    prob = np.concatenate([p for p, _ in parts]).astype(np.float64) if parts else np.zeros(0)
    count = np.concatenate([c for _, c in parts]).astype(np.float64) if parts else np.zeros(0)
    total = float((prob * count).sum())

    def at(t: float) -> tuple[float, float]:
        above = prob >= t
        links = float(count[above].sum())
        hits = float((prob * count)[above].sum())
        return (hits / links if links else 1.0), (hits / total if total else 1.0)

    if linked is None:
        precision, recall = at(threshold)
        basis = "candidates"
    else:
        q, pairs = linked
        q = np.asarray(q, np.float64)
        precision = float(q.mean()) if len(q) else 1.0
        hits = precision * pairs  # a sample stands for all the pairs
        recall = min(hits / total, 1.0) if total else 1.0
        basis = "output"
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    curve = [
        {"threshold": t, "precision": p, "recall": r}
        for t in curve_at
        for p, r in [at(t)]
    ]
    return {"precision": precision, "recall": recall, "f1": f1, "basis": basis,
            "curve": curve}
