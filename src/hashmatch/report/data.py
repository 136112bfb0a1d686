"""What the linkage report shows, assembled from ``report.json``-like data (no drawing).

:func:`assemble` reads the dictionary ``hashmatch link`` writes as ``RESULTS/report.json``
(and, optionally, what ``hashmatch evaluate`` measured against a truth file and the
parties' data-quality profiles) into plain :class:`ReportData`: one small dataclass per
section of the page. Every section is optional in the input: a section whose data is
missing is still listed, with a sentence saying what would fill it, so a reader learns
what the report *could* show. Nothing here draws or formats HTML
(:mod:`hashmatch.report.svg`, :mod:`hashmatch.report.page`).

Keys read from ``report.json`` (``format_version`` 1; all but the first group optional):

* ``inputs``, ``counts``, ``threshold``, ``party_pairs`` (with ``threshold``,
  ``score_counts``, ``blocking``), ``entity_merging``, ``dedup``, ``timings_seconds``;
* ``estimated``: ``{"precision", "recall", "f1", "basis", "curve": [{"threshold",
  "precision", "recall"}, ...]}``, label-free estimates of the link's quality (``basis``
  ``"output"``: the figures are the output's, the curve the candidates');
* ``model``: ``{"a~b": {"parties": [a, b], "prior", "prior_weight", "fields": {field:
  {level: {"m", "u", "weight"}}}}}`` (``link --scoring fs``), or per party pair
  ``party_pairs[].model``: ``{"prior": p, "fields": [{"field", "levels": [{"level", "m",
  "u"}, ...]}, ...]}``: the match weights (``log2(m / u)``) of each field's levels;
* ``borderline_pairs``: ``[{"party_a", "party_b", "score", "prior", "fields": [{"field",
  "level", "weight"}, ...]}, ...]``, pairs near the threshold with each field's comparison
  level (never a value) and its weight;
* ``party_pairs[].blocking.recall_estimate``: the share of true pairs blocking proposed;
* ``data_quality``: ``{party: <hashmatch profile --json>}``, counts per field.

Without ``estimated`` and ``model`` the page shows what the score-based linker has:
the pairs at or above each threshold, and the evidence each exact token carried
(``token_evidence``: ``{token: {"kind", "agree_bits", "disagree_bits"}}``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BlockingRow",
    "BorderlinePair",
    "Curve",
    "FieldWeights",
    "PairDistribution",
    "PartyQuality",
    "ReportData",
    "assemble",
]


@dataclass(frozen=True)
class PairDistribution:
    """One party pair's candidate-score histogram and the cut applied to it."""

    party_a: str
    party_b: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    threshold: float | None
    candidates: int
    accepted: int
    kept: int

    @property
    def within_party(self) -> bool:
        return self.party_a == self.party_b

    @property
    def label(self) -> str:
        return f"{self.party_a} ~ {self.party_b}"


@dataclass(frozen=True)
class Curve:
    """Precision and recall against the threshold (one point per threshold)."""

    label: str
    thresholds: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    estimated: bool  # from the model (no labels) rather than from a truth file


@dataclass(frozen=True)
class FieldWeights:
    """The weight of each comparison level of one field (bits of evidence)."""

    party_pair: str
    field: str
    levels: tuple[tuple[str, float], ...]  # (level, weight in bits)


@dataclass(frozen=True)
class BorderlinePair:
    """A pair near the threshold: its score and the comparison level of each field."""

    party_pair: str
    score: float
    prior: float | None
    fields: tuple[tuple[str, str, float | None], ...]  # (field, level, weight)


@dataclass(frozen=True)
class BlockingRow:
    party_pair: str
    candidates: int
    full_grid: int
    reduction_ratio: float | None
    per_method: Mapping[str, int]
    skipped_pairs: int
    recall_estimate: float | None


@dataclass(frozen=True)
class PartyQuality:
    """One party's fields: shares of valid, missing and invalid values, and why."""

    party: str
    rows: int
    fields: tuple[tuple[str, float, float, float, str], ...]  # field, valid, missing, invalid, why


@dataclass
class ReportData:
    """Everything the page shows, section by section (see the module docstring)."""

    title: str
    inputs: list[dict[str, Any]]
    summary: list[tuple[str, str]]  # (label, value) lines: counts, threshold, timings
    threshold: float | None
    threshold_explanation: str
    distributions: list[PairDistribution]
    curves: list[Curve]
    quality_points: list[tuple[str, float, float, float]]  # label, t, precision, recall
    accepted_curve: tuple[tuple[float, ...], tuple[int, ...]] | None  # thresholds, pairs
    weights: list[FieldWeights]
    weights_are_model: bool  # m/u estimates (True) or the score-based token evidence
    cluster_sizes: list[tuple[int, int]]  # (size, entities)
    cluster_parties: list[tuple[int, int]]  # (parties, entities)
    blocking: list[BlockingRow]
    borderline: list[BorderlinePair]
    borderline_band: list[tuple[str, int]]  # party pair, candidates within the band
    quality: list[PartyQuality]
    notes: dict[str, str] = field(default_factory=dict)  # section -> why it is empty


#: Half-width of the score band around the threshold counted as "borderline".
BORDERLINE_BAND = 0.05


def assemble(
    report: Mapping[str, Any],
    *,
    evaluation: Mapping[str, Any] | None = None,
    quality: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "Linkage report",
) -> ReportData:
    """Turn ``report.json`` content (plus optional extras) into :class:`ReportData`.

    Parameters
    ----------
    report
        The parsed ``report.json`` of ``hashmatch link``.
    evaluation
        What ``hashmatch evaluate`` measured: ``{"precision", "recall", "f1"}`` at the
        threshold used, and optionally ``"curve"`` (as in ``estimated``) and ``"source"``.
    quality
        Per party, a ``hashmatch profile --json`` document (overrides
        ``report["data_quality"]``).
    """
    threshold_doc = report.get("threshold") or {}
    threshold = _number(threshold_doc.get("value"))
    pairs = list(report.get("party_pairs") or [])
    data = ReportData(
        title=title,
        inputs=[dict(x) for x in report.get("inputs") or []],
        summary=_summary(report, threshold),
        threshold=threshold,
        threshold_explanation=str(threshold_doc.get("explanation") or ""),
        distributions=_distributions(pairs, threshold_doc),
        curves=[],
        quality_points=[],
        accepted_curve=None,
        weights=[],
        weights_are_model=False,
        cluster_sizes=_histogram_items((report.get("counts") or {}).get("entities_by_size")),
        cluster_parties=_histogram_items(
            (report.get("counts") or {}).get("entities_by_parties")
        ),
        blocking=_blocking(pairs),
        borderline=_borderline(report.get("borderline_pairs") or []),
        borderline_band=_band(pairs, threshold),
        quality=_quality({**(report.get("data_quality") or {}), **(quality or {})}),
    )
    _add_curves(data, report, evaluation, pairs)
    _add_weights(data, report, pairs)
    _add_notes(data, report)
    return data


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _summary(report: Mapping[str, Any], threshold: float | None) -> list[tuple[str, str]]:
    counts = report.get("counts") or {}
    merging = report.get("entity_merging") or {}
    out = [
        ("rows", f"{counts.get('rows', 0):,}"),
        ("entities", f"{counts.get('entities', 0):,}"),
        ("linked pairs", f"{counts.get('linked_pairs', 0):,}"),
        ("entities with more than one row", f"{merging.get('multi_row_entities', 0):,}"),
        (
            "merges refused",
            f"{merging.get('refused_same_party', 0):,} same party, "
            f"{merging.get('refused_conflict', 0):,} conflicting",
        ),
        ("within-party duplicates", "searched (dedup)" if report.get("dedup") else "not searched"),
    ]
    related = report.get("relationships")
    if isinstance(related, Mapping):
        out.append((
            "look-alike entities kept apart",
            f"{related.get('look-alike', 0):,} pairs (relationships.csv)",
        ))
    if threshold is not None:
        method = (report.get("threshold") or {}).get("method", "")
        out.append(("threshold", f"{threshold:.3f} ({method})"))
    within = sorted(
        {
            round(float(p["threshold"]), 3)
            for p in report.get("party_pairs") or []
            if p.get("party_a") == p.get("party_b") and _number(p.get("threshold")) is not None
        }
    )
    if within:
        out.append(("within-party threshold", ", ".join(f"{t:.3f}" for t in within)))
    estimated = report.get("estimated") or {}
    if all(_number(estimated.get(k)) is not None for k in ("precision", "recall")):
        out.append(
            (
                "estimated precision / recall",
                f"{estimated['precision']:.4f} / {estimated['recall']:.4f} (no labels)",
            )
        )
    out += [("note", str(w)) for w in report.get("notes") or []]
    total = (report.get("timings_seconds") or {}).get("total")
    if _number(total) is not None:
        out.append(("link time", f"{total:.2f} s"))
    version = report.get("hashmatch_version")
    if version:
        out.append(("hashmatch", str(version)))
    return out


def _distributions(
    pairs: Sequence[Mapping[str, Any]], threshold_doc: Mapping[str, Any]
) -> list[PairDistribution]:
    out = []
    for p in pairs:
        counts = tuple(int(c) for c in p.get("score_counts") or ())
        if not counts:
            continue
        edges = tuple(k / len(counts) for k in range(len(counts) + 1))
        out.append(
            PairDistribution(
                str(p.get("party_a", "")),
                str(p.get("party_b", "")),
                edges,
                counts,
                _number(p.get("threshold")),
                int(p.get("candidates", 0)),
                int(p.get("accepted", 0)),
                int(p.get("kept", 0)),
            )
        )
    if not out:  # an older report: only the pooled histogram the threshold came from
        hist = threshold_doc.get("histogram") or {}
        counts = tuple(int(c) for c in hist.get("counts") or ())
        edges = tuple(float(e) for e in hist.get("edges") or ())
        if counts and len(edges) == len(counts) + 1:
            out.append(
                PairDistribution(
                    "all parties", "pooled", edges, counts,
                    _number(threshold_doc.get("value")), sum(counts), 0, 0,
                )  # fmt: skip
            )
    return out


def _curve(doc: Any, label: str, *, estimated: bool) -> Curve | None:
    points = [
        (float(p["threshold"]), float(p["precision"]), float(p["recall"]))
        for p in doc or []
        if all(_number(p.get(k)) is not None for k in ("threshold", "precision", "recall"))
    ]
    if len(points) < 2:
        return None
    points.sort()
    t, prec, rec = zip(*points, strict=True)
    return Curve(label, t, prec, rec, estimated)


def _add_curves(
    data: ReportData,
    report: Mapping[str, Any],
    evaluation: Mapping[str, Any] | None,
    pairs: Sequence[Mapping[str, Any]],
) -> None:
    estimated = report.get("estimated") or {}
    on_output = estimated.get("basis") == "output"  # the point: the output's pairs
    label = "estimated on the candidates (no labels)" if on_output else "estimated (no labels)"
    curve = _curve(estimated.get("curve"), label, estimated=True)
    if curve is not None:
        data.curves.append(curve)
    if evaluation:
        source = evaluation.get("source") or "truth file"
        curve = _curve(evaluation.get("curve"), f"true ({source})", estimated=False)
        if curve is not None:
            data.curves.append(curve)
        if data.threshold is not None and _number(evaluation.get("precision")) is not None:
            data.quality_points.append(
                (
                    "true, at the threshold used",
                    data.threshold,
                    float(evaluation["precision"]),
                    float(evaluation.get("recall") or 0.0),
                )
            )
    if data.threshold is not None and all(
        _number(estimated.get(k)) is not None for k in ("precision", "recall")
    ):
        data.quality_points.append(
            (
                "estimated on the output" if on_output else "estimated, at the threshold used",
                data.threshold,
                float(estimated["precision"]),
                float(estimated["recall"]),
            )
        )
    cross = [d for d in data.distributions if not d.within_party]
    if cross:  # pairs at or above each threshold: what the score alone tells
        bins = len(cross[0].counts)
        if all(len(d.counts) == bins for d in cross):
            totals = [sum(d.counts[k] for d in cross) for k in range(bins)]
            above, running = [], 0
            for c in reversed(totals):
                running += c
                above.append(running)
            above.reverse()
            data.accepted_curve = (cross[0].edges[:-1], tuple(above))


def _models(
    report: Mapping[str, Any], pairs: Sequence[Mapping[str, Any]]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(party pair, [{"field", "levels": [{"level", "m", "u", "weight"}]}])`` from either
    layout of the model (see the module docstring)."""
    out = []
    for key, model in sorted((report.get("model") or {}).items()):
        if not isinstance(model, Mapping):
            continue
        parties = model.get("parties") or str(key).split("~", 1)
        label = " ~ ".join(str(x) for x in parties)
        fields = [
            {"field": name, "levels": [{"level": lv, **dict(v)} for lv, v in levels.items()]}
            for name, levels in (model.get("fields") or {}).items()
            if isinstance(levels, Mapping)
        ]
        out.append((label, fields))
    for p in pairs:
        model = p.get("model") or {}
        if model.get("fields"):
            out.append((f"{p.get('party_a', '')} ~ {p.get('party_b', '')}", model["fields"]))
    return out


def _add_weights(
    data: ReportData, report: Mapping[str, Any], pairs: Sequence[Mapping[str, Any]]
) -> None:
    for label, model_fields in _models(report, pairs):
        for f in model_fields:
            levels = []
            for level in f.get("levels") or []:
                m, u = _number(level.get("m")), _number(level.get("u"))
                weight = _number(level.get("weight"))
                if weight is None and m and u:
                    weight = math.log2(m / u)
                if weight is not None:
                    levels.append((str(level.get("level", "")), weight))
            if levels:
                data.weights.append(FieldWeights(label, str(f.get("field", "")), tuple(levels)))
    if data.weights:
        data.weights_are_model = True
        return
    for name, ev in sorted((report.get("token_evidence") or {}).items()):
        agree, disagree = _number(ev.get("agree_bits")), _number(ev.get("disagree_bits"))
        if agree is None or disagree is None:
            continue
        token_levels = (("agree", agree), ("disagree", disagree))
        label = f"exact token ({ev.get('kind', '')})"
        data.weights.append(FieldWeights(label, name, token_levels))


def _histogram_items(doc: Any) -> list[tuple[int, int]]:
    if not isinstance(doc, Mapping):
        return []
    return sorted((int(k), int(v)) for k, v in doc.items())


def _blocking(pairs: Sequence[Mapping[str, Any]]) -> list[BlockingRow]:
    out = []
    for p in pairs:
        b = p.get("blocking")
        if not isinstance(b, Mapping):
            continue
        out.append(
            BlockingRow(
                f"{p.get('party_a', '')} ~ {p.get('party_b', '')}",
                int(b.get("candidates", 0)),
                int(b.get("full_grid", 0)),
                _number(b.get("reduction_ratio")),
                {str(k): int(v) for k, v in (b.get("per_method") or {}).items()},
                int(b.get("skipped_pairs", 0)),
                _number(b.get("recall_estimate")),
            )
        )
    return out


def _borderline(doc: Sequence[Any]) -> list[BorderlinePair]:
    out = []
    for p in doc:
        if not isinstance(p, Mapping) or _number(p.get("score")) is None:
            continue
        fields = tuple(
            (str(f.get("field", "")), str(f.get("level", "")), _number(f.get("weight")))
            for f in p.get("fields") or []
            if isinstance(f, Mapping)
        )
        out.append(
            BorderlinePair(
                f"{p.get('party_a', '')} ~ {p.get('party_b', '')}",
                float(p["score"]),
                _number(p.get("prior")),
                fields,
            )
        )
    return out


def _band(pairs: Sequence[Mapping[str, Any]], threshold: float | None) -> list[tuple[str, int]]:
    """Per party pair, candidates scoring within BORDERLINE_BAND of its own cut."""
    out = []
    for p in pairs:
        counts = p.get("score_counts") or ()
        cut = _number(p.get("threshold"))
        cut = cut if cut is not None else threshold
        if not counts or cut is None:
            continue
        bins = len(counts)
        lo = max(0, math.floor((cut - BORDERLINE_BAND) * bins + 1e-9))
        hi = min(bins, math.ceil((cut + BORDERLINE_BAND) * bins - 1e-9))
        out.append((f"{p.get('party_a', '')} ~ {p.get('party_b', '')}", sum(counts[lo:hi])))
    return out


def _quality(doc: Mapping[str, Any]) -> list[PartyQuality]:
    out = []
    for party, profile in sorted(doc.items()):
        if not isinstance(profile, Mapping):
            continue
        rows = int(profile.get("rows_usable", profile.get("rows_read", 0)) or 0)
        fields = []
        for name, f in (profile.get("fields") or {}).items():
            if not isinstance(f, Mapping):
                continue
            if f.get("absent"):
                fields.append((str(name), 0.0, 1.0, 0.0, "no column"))
                continue
            missing = sum((f.get("missing") or {}).values())
            invalid = sum((f.get("invalid") or {}).values())
            valid = int(f.get("valid", 0))
            total = rows or (valid + missing + invalid) or 1
            reasons = {**(f.get("invalid") or {}), **(f.get("missing") or {})}
            top = sorted(reasons.items(), key=lambda kv: -kv[1])[:2]
            why = ", ".join(f"{reason} {count:,}" for reason, count in top)
            fields.append((str(name), valid / total, missing / total, invalid / total, why))
        out.append(PartyQuality(str(party), rows, tuple(fields)))
    return out


def _add_notes(data: ReportData, report: Mapping[str, Any]) -> None:
    if not data.distributions:
        data.notes["distributions"] = "report.json holds no score histogram."
    if not data.curves:
        data.notes["curves"] = (
            "No precision/recall curve: the link did not estimate one (a probabilistic "
            "model writes its estimates into report.json), and no truth file was given "
            "(hashmatch evaluate RESULTS --truth ... --html RESULTS/report.html). "
            "Shown instead: how many cross-party candidate pairs score at or above each "
            "threshold."
        )
    if not data.weights_are_model:
        data.notes["weights"] = (
            "The link used score-based matching: each exact token adds or removes a fixed "
            "amount of evidence (bits, below); field similarities enter the score through "
            "their share of the CLK. A probabilistic model writes per-field match weights "
            "(m/u) into report.json."
        )
    if not data.borderline:
        data.notes["borderline"] = (
            "No per-pair comparison levels in report.json. Shown instead: per party pair, "
            f"how many candidates scored within {BORDERLINE_BAND} of the cut."
        )
    if not data.quality:
        data.notes["quality"] = (
            "No data-quality profile was given: each party can run hashmatch profile DATA "
            "--schema schema.toml --mapping MAPPING --json > PARTY.profile.json (counts "
            "only) and the coordinator pass it with link --encode-report."
        )
    if data.blocking and all(b.recall_estimate is None for b in data.blocking):
        data.notes["blocking"] = (
            "Blocking recall is not estimated by this version; the reduction ratio says "
            "how much of the full comparison grid was skipped."
        )
