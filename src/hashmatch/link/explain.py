"""Why a pair was linked: the Fellegi-Sunter waterfall of a pair, from the encodings only.

With probabilistic scoring a pair's match weight is a sum (see
:mod:`hashmatch.link.fellegi_sunter`): the party pair's prior log-odds plus one log2(m/u)
per field at the level the pair's encodings agree (``exact``, ``dice>=0.9``, ...,
``else``, ``missing``). :func:`explain_pairs` computes those terms for the linked pairs
(``link --pairs`` writes them to pairs.csv, columns :func:`explanation_header`), and
:func:`read_explanation` reads one pair back for ``hashmatch explain``. Levels come from
intersection counts of the keyed encodings: no value is needed or shown.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hashmatch.errors import ResultsError

if TYPE_CHECKING:
    from hashmatch.link.fs_scorer import ProbabilisticScorer

__all__ = ["Explanation", "PairExplanations", "explain_pairs", "explanation_header",
           "read_explanation"]


@dataclass(frozen=True)
class PairExplanations:
    """Per linked pair (aligned with ``LinkResult.pairs``): prior weight, each field's
    level name and weight (bits)."""

    fields: tuple[str, ...]
    level_names: tuple[tuple[str, ...], ...]  # per field
    prior: npt.NDArray[np.float64]  # [pairs]
    levels: npt.NDArray[np.int8]  # [pairs, fields]
    weights: npt.NDArray[np.float64]  # [pairs, fields]

    def row(self, k: int) -> list[str]:
        """pairs.csv cells of pair ``k`` after the score (see :func:`explanation_header`)."""
        cells = [f"{self.prior[k]:.2f}"]
        for c, (level, weight) in enumerate(
            zip(self.levels[k].tolist(), self.weights[k].tolist(), strict=True)
        ):
            cells += [self.level_names[c][level], f"{weight:.2f}"]
        return [*cells, f"{self.prior[k] + self.weights[k].sum():.2f}"]


def explanation_header(fields: Sequence[str]) -> list[str]:
    """pairs.csv columns after ``score``: prior, per field level and weight, total."""
    cells = ["prior_weight"]
    for name in fields:
        cells += [f"{name}_level", f"{name}_weight"]
    return [*cells, "total_weight"]


def explain_pairs(
    scorer: ProbabilisticScorer,
    pairs: Sequence[npt.NDArray[Any]],
) -> PairExplanations:
    """The waterfall of each pair ``(pa[k], ra[k]) ~ (pb[k], rb[k])`` under its party
    pair's model (one vectorised pass per party pair)."""
    pa, ra, pb, rb = (np.asarray(x, np.int64) for x in pairs[:4])
    spec = scorer.spec
    n = len(pa)
    prior = np.zeros(n, np.float64)
    weights = np.zeros((n, len(spec.names)), np.float64)
    codes = np.zeros((n, len(spec.names)), np.int8)
    for a, b in {(int(x), int(y)) for x, y in zip(pa.tolist(), pb.tolist(), strict=True)}:
        rows = np.flatnonzero((pa == a) & (pb == b))
        model = scorer.model(a, b)
        vectors = scorer.vectors(a, ra[rows], b, rb[rows])
        codes[rows] = vectors
        weights[rows] = model.field_weights(vectors)
        prior[rows] = model.prior_weight
    return PairExplanations(spec.names, spec.levels, prior, codes, weights)


@dataclass(frozen=True)
class Explanation:
    """One pair's waterfall as read from pairs.csv."""

    parties: tuple[str, str]
    score: float
    prior: float
    terms: list[tuple[str, str, float]]  # field, level, weight
    total: float


def read_explanation(results: Path, token_a: str, token_b: str) -> Explanation:
    """The waterfall of the linked pair of row tokens ``token_a`` and ``token_b`` (either
    order) from ``results/pairs.csv``, written by ``link --scoring fs --pairs``."""
    path = Path(results) / "pairs.csv" if Path(results).is_dir() else Path(results)
    if not path.exists():
        msg = f"{path}: no pairs file (link with --pairs to write one)"
        raise ResultsError(msg)
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if "prior_weight" not in header:
            msg = f"{path}: holds no per-field weights (link with --scoring fs --pairs)"
            raise ResultsError(msg)
        fields = [c[: -len("_level")] for c in header if c.endswith("_level")]
        wanted = {token_a, token_b}
        for row in reader:
            if {row["row_token_a"], row["row_token_b"]} == wanted:
                return Explanation(
                    (row["party_a"], row["party_b"]),
                    float(row["score"]),
                    float(row["prior_weight"]),
                    [(f, row[f"{f}_level"], float(row[f"{f}_weight"])) for f in fields],
                    float(row["total_weight"]),
                )
    msg = f"{path}: these two row tokens are not a linked pair there"
    raise ResultsError(msg)
