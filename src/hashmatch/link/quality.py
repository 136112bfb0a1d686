"""Label-free quality estimates from the match probabilities of the candidates.

With a calibrated probability ``p`` per candidate (the Fellegi-Sunter posterior,
:mod:`hashmatch.link.fellegi_sunter`), the links made at a threshold ``t`` hold in
expectation ``sum(p)`` true matches among ``count(p >= t)`` links, and all candidates hold
``sum(p)`` matches in all (fastLink's FDR/FNR estimates). So, with no labels::

    precision(t) = sum_{p >= t} p / count(p >= t)
    recall(t)    = sum_{p >= t} p / sum_all p

computed over the distinct comparison patterns of each party pair with their counts. Two
limits, said where the estimate is shown: matches blocking never proposed are not counted
(recall is relative to the candidates), and the estimate is taken before one-to-one
solving and entity merging, which usually raise precision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CURVE_THRESHOLDS", "estimate_quality"]

#: Thresholds (probabilities) at which the curve is reported.
CURVE_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def estimate_quality(
    groups: Iterable[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]],
    threshold: float,
    curve_at: Sequence[float] = CURVE_THRESHOLDS,
) -> dict[str, Any]:
    """``{"precision", "recall", "f1", "curve": [{"threshold", "precision", "recall"}]}``
    from ``(probability, count)`` arrays of candidate patterns (one group per party pair).

    Example
    -------
    >>> import numpy as np
    >>> p = np.array([0.99, 0.5, 0.01], np.float32); n = np.array([10, 2, 100])
    >>> q = estimate_quality([(p, n)], 0.5)
    >>> round(q["precision"], 3), round(q["recall"], 3)
    (0.908, 0.909)
    """
    parts = list(groups)
    prob = np.concatenate([p for p, _ in parts]).astype(np.float64) if parts else np.zeros(0)
    count = np.concatenate([c for _, c in parts]).astype(np.float64) if parts else np.zeros(0)

    def at(t: float) -> tuple[float, float]:
        above = prob >= t
        links = float(count[above].sum())
        hits = float((prob * count)[above].sum())
        total = float((prob * count).sum())
        return (hits / links if links else 1.0), (hits / total if total else 1.0)

    precision, recall = at(threshold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    curve = [
        {"threshold": t, "precision": p, "recall": r}
        for t in curve_at
        for p, r in [at(t)]
    ]
    return {"precision": precision, "recall": recall, "f1": f1, "curve": curve}
