"""Choose the acceptance threshold from the candidate scores alone (no labels).

Candidate pairs mix two populations: non-matches that blocking let through (low scores)
and true matches (high scores). Their score histogram is bimodal, and the threshold
belongs in the valley between the two modes. The method, in order:

1. Histogram the scores on [0, 1] (``bins`` bins) and smooth the *logarithm* of the counts
   with a small Gaussian kernel. Logarithms, because non-matches usually outnumber matches
   by one or two orders of magnitude; on a linear scale the match mode would look like
   noise.
2. Find the local maxima and their prominence (how far one must descend before reaching
   a higher peak). A mode counts when its prominence is at least ``min_prominence``
   (natural log units: 1.0 = the peak is e times higher than the valley that separates it).
3. Take the two most prominent modes. Between them, the *valley floor* is where the
   smoothed histogram is within ``floor_tolerance`` (ln 2: a factor 2 in count) of its
   minimum, or at least ``floor_below_mode`` (ln 16) below the smaller mode, whichever
   reaches higher. The threshold is the first bin, walking up from the non-match mode,
   that reaches the floor (the floor's lower edge). Lower edge, because the costs are
   asymmetric: every pair above the threshold still goes through one-to-one solving,
   which discards a false candidate whose rows have a better partner, whereas a true
   match below the threshold is lost for good. In a deep valley the second rule
   decides: the match mode is far above the non-match tail, the tail's last stragglers
   are the only false candidates near the cut and solving removes them, so the cut may
   sit low. In a shallow valley the first decides: close non-matches (households,
   namesakes) fill it, and many of them have no better partner to lose to. (Both rules
   against the ones they replaced: benchmarks/README.md, "Threshold: the valley floor".)
   A single file deduplicated alone (``within_party``) has no solving to make up for a
   low cut: every pair above it joins two records into one entity. Its threshold is the
   floor's centre instead, halfway between the lower edge and the last floor bin before
   the match mode: where the floor is flat, the lower edge (and the minimum) move with
   a few candidates from one secret to another, the centre does not (measured:
   benchmarks/README.md, "Threshold: a single file deduplicated alone").
4. Fallbacks, each said in the explanation: no scores, or a single mode (no valley to
   find), gives ``fallback`` (0.8, a conservative Dice threshold for 1024-bit CLKs).
5. Per party pair (:func:`own_valley`): a cross-party pair whose own histogram has its
   valley well below the pooled threshold, with most of its candidates above that valley
   lying below the pooled threshold, is linked at its own valley. Such a pair shares
   fewer fields than the others, so its matches score lower; on large inputs the pooled
   valley can sit above them.

Interface::

    choice = choose_threshold(scores)           # ThresholdChoice
    choice.value, choice.method, choice.explanation
    print(render_histogram_text(scores, choice))
    write_histogram_png(scores, choice, "RESULTS/score-histogram.png")

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> scores = np.r_[rng.normal(0.45, 0.06, 5000), rng.normal(0.93, 0.03, 500)]
>>> choice = choose_threshold(scores.astype(np.float32))
>>> choice.method, 0.6 < choice.value < 0.85
('valley', True)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Scores

__all__ = [
    "FALLBACK_THRESHOLD",
    "ThresholdChoice",
    "choose_threshold",
    "OwnValley",
    "own_valley",
    "pair_threshold",
    "render_histogram_text",
    "write_histogram_png",
]

#: Used when the scores show no valley (documented in the explanation).
FALLBACK_THRESHOLD = 0.8


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold, how it was chosen, and the histogram it was chosen from.

    ``method`` is ``"valley"``, ``"fallback-empty"``, ``"fallback-unimodal"`` or
    ``"explicit"``. ``modes`` are the score positions of the modes found (ascending).
    ``edges``/``counts`` are the raw histogram (``len(edges) == len(counts) + 1``).
    """

    value: float
    method: str
    explanation: str
    edges: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    modes: tuple[float, ...] = ()

    @property
    def histogram(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """``(edges, counts)`` as arrays."""
        return np.asarray(self.edges, np.float64), np.asarray(self.counts, np.int64)

    @classmethod
    def explicit(
        cls, value: float, scores: Scores | None = None, *, bins: int = 100
    ) -> ThresholdChoice:
        """A threshold given by the user (histogram attached when scores are given)."""
        if not 0.0 <= value <= 1.0:
            msg = f"threshold: expected a value in [0, 1], got {value}"
            raise ValueError(msg)
        edges, counts = _histogram(np.zeros(0) if scores is None else scores, bins)
        return cls(
            float(value),
            "explicit",
            f"threshold {value:.3f} given explicitly",
            tuple(edges.tolist()),
            tuple(counts.tolist()),
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready data for report.json."""
        return {
            "value": self.value,
            "method": self.method,
            "explanation": self.explanation,
            "modes": list(self.modes),
            "histogram": {"edges": list(self.edges), "counts": list(self.counts)},
        }


def choose_threshold(
    scores: Scores,
    *,
    bins: int = 100,
    smoothing: float = 1.5,
    min_prominence: float = 1.0,
    floor_tolerance: float = math.log(2.0),
    floor_below_mode: float = math.log(16.0),
    fallback: float = FALLBACK_THRESHOLD,
    within_party: bool = False,
) -> ThresholdChoice:
    """Pick the threshold in the valley between the non-match and match score modes.

    Parameters
    ----------
    scores:
        Candidate pair scores in [0, 1] (a subsample is fine: only the histogram is used).
    bins:
        Histogram bins over [0, 1].
    smoothing:
        Gaussian kernel width in bins, applied to log(1 + count).
    min_prominence:
        Minimal prominence of a mode, in natural-log units of the count.
    floor_tolerance:
        How far above the valley minimum (natural-log units) the valley floor extends
        at least.
    floor_below_mode:
        ... or reaches up to this far (natural-log units) below the smaller mode, when
        that is higher.
    fallback:
        Threshold used when no valley can be found.
    within_party:
        The scores are one file's pairs with itself (a deduplication with no other
        party): the threshold is the valley floor's centre, not its lower edge.

    Returns
    -------
    ThresholdChoice
    """
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    edges, counts = _histogram(scores, bins)
    return _choose(edges, counts, smoothing=smoothing, min_prominence=min_prominence,
                   floor_tolerance=floor_tolerance, floor_below_mode=floor_below_mode,
                   fallback=fallback, within_party=within_party)


def _choose(
    edges: npt.NDArray[np.float64], counts: npt.NDArray[np.int64], *, smoothing: float = 1.5,
    min_prominence: float = 1.0, floor_tolerance: float = math.log(2.0),
    floor_below_mode: float = math.log(16.0), fallback: float = FALLBACK_THRESHOLD,
    within_party: bool = False,
) -> ThresholdChoice:
    """:func:`choose_threshold` on a histogram of the scores (bins over [0, 1])."""
    hist = (tuple(edges.tolist()), tuple(counts.tolist()))
    total = int(counts.sum())
    if not total:
        return ThresholdChoice(
            fallback,
            "fallback-empty",
            f"no candidate scores; using the fallback {fallback:.3f}",
            *hist,
        )
    smooth = _smooth(np.log1p(counts.astype(np.float64)), smoothing)
    peaks = _prominent_peaks(smooth, min_prominence)
    centres = (edges[:-1] + edges[1:]) / 2
    if len(peaks) < 2:
        where = f" at {centres[peaks[0]]:.2f}" if peaks else ""
        return ThresholdChoice(
            fallback,
            "fallback-unimodal",
            f"{total:,} scores form a single mode{where}: no valley between "
            f"non-matches and matches, so the fallback {fallback:.3f} is used; "
            "check the histogram and consider --threshold",
            *hist,
            modes=tuple(float(centres[p]) for p in peaks),
        )
    low, high = sorted(peaks[:2])
    segment = smooth[low : high + 1]
    smaller_mode = min(smooth[low], smooth[high])
    depth = smaller_mode - segment.min()
    # the floor reaches further up a deep valley: see step 3 of the module docstring
    floor = max(segment.min() + floor_tolerance, smaller_mode - floor_below_mode)
    on_floor = np.flatnonzero(segment <= floor) + low
    # the first bin where the non-match mode's tail has come down to the valley floor
    cut, where = int(on_floor[0]), "valley"
    if within_party:  # the floor's centre (a bin edge): see step 3 of the module docstring
        cut, where = (cut + int(on_floor[-1]) + 1) // 2, "centre of the valley floor"
    value = float(edges[cut])
    above = int(counts[cut:].sum())
    return ThresholdChoice(
        value,
        "valley",
        f"{where} of the score histogram between the non-match mode at {centres[low]:.2f} "
        f"and the match mode at {centres[high]:.2f} ({math.exp(depth):.0f}x lower than the "
        f"smaller mode); {above:,} of {total:,} candidate scores are at or above it",
        *hist,
        modes=(float(centres[low]), float(centres[high])),
    )


def render_histogram_text(
    scores: Scores, choice: ThresholdChoice, *, rows: int = 20, width: int = 40
) -> str:
    """A small text histogram of ``scores`` (log-scaled bars) with the threshold marked."""
    edges, counts = _histogram(np.asarray(scores, np.float64), rows)
    top = math.log1p(int(counts.max(initial=0))) or 1.0
    lines = [f"candidate scores (n={int(counts.sum()):,}; bar length ~ log count)"]
    marked = False
    for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
        if not marked and lo >= choice.value:
            lines.append(f"{'-' * 12} threshold {choice.value:.3f} ({choice.method}) {'-' * 8}")
            marked = True
        bar = "#" * round(width * math.log1p(int(c)) / top)
        lines.append(f"{lo:4.2f}-{hi:4.2f} |{bar:<{width}}| {int(c):,}")
        if not marked and lo < choice.value < hi:
            lines.append(f"{'-' * 12} threshold {choice.value:.3f} ({choice.method}) {'-' * 8}")
            marked = True
    return "\n".join(lines)


def write_histogram_png(
    scores: Scores, choice: ThresholdChoice, path: str | os.PathLike[str]
) -> None:
    """Write the score histogram (log-scaled bars) with the threshold as a PNG, atomically.

    Drawn from the counts already in ``choice`` (when it has them) with Pillow's
    ImageDraw: the PNG is written by every ``hashmatch link``, and importing and drawing
    with matplotlib took ~0.4 s, most of the FEBRL 4 link step; Pillow takes a few ms.
    x: score 0.0-1.0; y: pairs per bin on a log scale; the red dashed line is the
    threshold, whose value and method are in the title and in report.json.
    """
    from hashmatch.atomic import atomic_write

    edges, counts = choice.histogram
    if not len(counts):
        edges, counts = _histogram(np.asarray(scores, np.float64), 100)
    image = _draw_histogram(np.asarray(edges), np.asarray(counts), choice)
    with atomic_write(path, "wb") as fh:
        image.save(fh, format="PNG")


#: A cross-party pair is linked at the valley of its own scores when that valley lies at
#: least this far below the threshold chosen from every pair's scores. Measured
#: (benchmarks/README.md, "Threshold: a cut for the party pair the pooled valley cuts
#: off"): on small inputs every pair's own valley lies within 0.1 of the pooled one, so
#: nothing changes there; as the data grow the pooled valley climbs (synth: 0.61 at
#: 10,000 people, 0.86 from 50,000 on) above the tail of every pair's matches.
OWN_VALLEY_GAP = 0.1
#: The pair's own valley is looked for only when its histogram holds at least this many
#: candidate scores: in a few hundred (a party pair of a small input) the noise alone
#: makes valleys, and on 500 synth people they fell 0.1-0.2 below the pooled threshold
#: and moved from one month to the next.
OWN_VALLEY_MIN_SCORES = 10_000
#: The prominence (natural-log units of the smoothed count) the match mode of a pair's own
#: histogram needs: less than a third of the pooled choice's. Among millions of candidate
#: scores, the match mode of a pair that shares few fields is a small bump on the
#: namesakes' tail, yet far above the counts' noise (a few percent of a count in the
#: thousands): synth at 969,205 records, callcentre ~ catalogue (names, ZIP and a birth
#: year in common) has 3,437 scores at 0.79 over 1,090 at 0.76, a prominence of 0.39 once
#: smoothed; linked at its own valley (0.69) rather than the pooled 0.86, that pair's F1
#: went 0.61 -> 0.83 and the whole link's 0.864 -> 0.905 (benchmarks/README.md,
#: "Threshold: a small match mode"). :data:`OWN_VALLEY_MIN_SCORES` keeps small
#: histograms out, and most of the pair's candidates must lie below the cut.
OWN_VALLEY_PROMINENCE = 0.3


@dataclass(frozen=True)
class OwnValley:
    """A party pair whose matches the pooled threshold would partly cut off, and its own
    cut."""

    value: float  # the valley of the pair's own score histogram: its threshold
    pooled: float  # the threshold chosen from every pair's scores
    between: int  # its candidates scoring in [value, pooled)
    above: int  # its candidates scoring at or above pooled

    def describe(self, name: str) -> str:
        return (
            f"{name}: linked at the valley of its own scores, {self.value:.2f}, not at the "
            f"threshold {self.pooled:.2f} chosen from every party pair: {self.between:,} of "
            f"its candidates score between the two, {self.above:,} above (the pooled "
            "valley lies above this pair's own, which it would cut off)"
        )


def own_valley(choice: ThresholdChoice, counts: npt.ArrayLike) -> OwnValley | None:
    """The cut of one cross-party pair when the automatic threshold would cut it off.

    One threshold for every party pair is chosen from their pooled scores. Pairs differ
    in the fields they share (a catalogue with names and a birth year only has its match
    mode lower than the others), and as the data grow, near-misses (households,
    namesakes) fill the pooled histogram between the modes, so its valley climbs: at 1M
    records it sat at 0.86, above the whole match mode of the catalogue pairs and above
    the tail of every pair's matches (records with a typo or a missing field). When the
    pair's own histogram (``counts``, all its candidate scores in the bins of ``choice``;
    at least :data:`OWN_VALLEY_MIN_SCORES` of them) has a valley :data:`OWN_VALLEY_GAP`
    or more below the pooled threshold, the pair is linked at its own valley. Otherwise
    (every pair of a small input, and always for a threshold the user gave) None: the
    pooled threshold.
    """
    if choice.method != "valley":  # a threshold the user gave, or no valley at all
        return None
    edges = np.asarray(choice.edges, np.float64)
    hist = np.asarray(counts, np.int64)
    if len(hist) + 1 != len(edges) or hist.sum() < OWN_VALLEY_MIN_SCORES:
        return None
    own = _choose(edges, hist, min_prominence=OWN_VALLEY_PROMINENCE)
    if own.method != "valley" or own.value > choice.value - OWN_VALLEY_GAP:
        return None
    if not _mostly_below(edges, hist, own):  # a bump below the non-matches' mode
        return None
    cut = int(np.searchsorted(edges, choice.value, side="left"))
    low = int(np.searchsorted(edges, own.value, side="left"))
    between, above = int(hist[low:cut].sum()), int(hist[cut:].sum())
    return OwnValley(own.value, choice.value, between, above)


def _mostly_below(
    edges: npt.NDArray[np.float64], hist: npt.NDArray[np.int64], own: ThresholdChoice
) -> bool:
    """Whether most of the pair's candidates score below ``own``'s cut, as the non-matches
    that blocking brings in always outnumber a pair's matches. A weak mode may also be a
    bump of the non-matches' own shape (pairs sharing fewer fields) below their mode; a
    cut between the two would link most of the candidates."""
    cut = int(np.searchsorted(edges, own.value, side="left"))
    return bool(hist[cut:].sum() < hist[:cut].sum())


def pair_threshold(choice: ThresholdChoice, counts: npt.ArrayLike) -> float:
    """The threshold of one cross-party pair: its :func:`own_valley` where it has one,
    else the pooled threshold."""
    own = own_valley(choice, counts)
    return choice.value if own is None else own.value


# -- helpers -------------------------------------------------------------------------------


def _histogram(
    scores: npt.NDArray[np.floating[Any]], bins: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    counts, edges = np.histogram(np.clip(scores, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    return edges, counts.astype(np.int64)


def _smooth(values: npt.NDArray[np.float64], sigma: float) -> npt.NDArray[np.float64]:
    if sigma <= 0:
        return values
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    # mirrored at the ends: identical records pile up at exactly 1.0, and zero padding
    # would flatten that pile (the match mode) into its neighbours
    padded = np.pad(values, radius, mode="symmetric")
    return np.convolve(padded, kernel, mode="valid")


def _prominent_peaks(values: npt.NDArray[np.float64], min_prominence: float) -> list[int]:
    """Indices of local maxima with prominence >= min_prominence, most prominent first."""
    padded = np.r_[-np.inf, values, -np.inf]
    # plateaus: a peak is the first index of a run that rises then falls
    candidates = [
        k
        for k in range(len(values))
        if padded[k + 1] > padded[k] and padded[k + 1] >= padded[k + 2]
    ]
    found = []
    for k in candidates:
        v = values[k]
        base = []
        for side in (values[:k][::-1], values[k + 1 :]):
            higher = np.flatnonzero(side > v)
            # down to the nearest higher point; beyond [0, 1] there are no scores (log 0)
            base.append(side[: higher[0]].min(initial=v) if len(higher) else 0.0)
        prominence = v - max(base)
        if prominence >= min_prominence:
            found.append((prominence, k))
    found.sort(key=lambda t: (-t[0], t[1]))
    return [k for _, k in found]


# -- the PNG ---------------------------------------------------------------------------

_WIDTH, _HEIGHT = 700, 420
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 680, 40, 360  # plot area in pixels
_BAR, _LINE, _INK = (72, 120, 168), (192, 48, 48), (0, 0, 0)


def _draw_histogram(
    edges: npt.NDArray[np.float64], counts: npt.NDArray[np.int64], choice: ThresholdChoice
) -> Any:
    """The histogram as a Pillow image: log-scaled bars, ticks, the threshold line."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (_WIDTH, _HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    width, height = _RIGHT - _LEFT, _BOTTOM - _TOP
    decades = max(1, math.ceil(math.log10(max(int(counts.max(initial=0)), 1))))

    def y_of(count: float) -> int:  # log scale; a count of 1 still shows as half a decade
        return _BOTTOM - round(height * (math.log10(count) + 0.5) / (decades + 0.5))

    def x_of(score: float) -> int:
        return _LEFT + round(width * min(max(score, 0.0), 1.0))

    for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
        if c > 0:
            right = max(x_of(hi) - 1, x_of(lo))
            draw.rectangle((x_of(lo), y_of(int(c)), right, _BOTTOM - 1), fill=_BAR)
    x = x_of(choice.value)
    for top in range(_TOP, _BOTTOM, 10):  # dashed threshold line
        draw.line((x, top, x, min(top + 5, _BOTTOM)), fill=_LINE, width=2)
    draw.line((_LEFT - 1, _TOP, _LEFT - 1, _BOTTOM), fill=_INK)
    draw.line((_LEFT - 1, _BOTTOM, _RIGHT, _BOTTOM), fill=_INK)
    for k in range(6):
        tick = x_of(k / 5)
        draw.line((tick, _BOTTOM, tick, _BOTTOM + 4), fill=_INK)
        draw.text((tick, _BOTTOM + 8), f"{k / 5:.1f}", fill=_INK, anchor="mt")
    for d in range(decades + 1):
        tick = y_of(10**d)
        draw.line((_LEFT - 6, tick, _LEFT - 1, tick), fill=_INK)
        draw.text((_LEFT - 9, tick), f"{10**d:,}", fill=_INK, anchor="rm")
    draw.text((_LEFT + width // 2, _BOTTOM + 30), "candidate pair score", fill=_INK, anchor="mt")
    draw.text(
        (_LEFT, 12),
        f"pairs per score bin (log scale); threshold {choice.value:.3f} ({choice.method})",
        fill=_INK,
    )
    return image
