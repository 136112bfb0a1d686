"""The linkage report as one self-contained HTML page (sections, tables, inline SVG).

:func:`render_page` lays out :class:`~hashmatch.report.data.ReportData` section by section,
each a ``<section id=...>`` with a heading, a sentence on how to read it, its charts
(:mod:`hashmatch.report.svg`) and, when its data is missing, what would fill it. The page
has no script and loads nothing: its Content-Security-Policy forbids every fetch, so it
opens the same way offline, from an e-mail or on a locked-down machine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from hashmatch.report import svg
from hashmatch.report.data import BORDERLINE_BAND, ReportData

__all__ = ["SECTIONS", "render_page"]

#: Section id -> heading, in page order (the browser test checks each one is present).
SECTIONS: dict[str, str] = {
    "inputs": "Inputs and counts",
    "score-distributions": "Score distribution per party pair",
    "precision-recall": "Precision and recall against the threshold",
    "match-weights": "Match weights",
    "clusters": "Entity sizes",
    "blocking": "Blocking",
    "borderline-pairs": "Borderline pairs",
    "data-quality": "Data quality per party",
}

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 16px 24px; color: #222; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 6px; border-bottom: 1px solid #ccc; }
p.how, p.note { color: #555; margin: 4px 0 10px; max-width: 80ch; }
p.note { font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 18px; }
.charts svg { background: #fafafa; border: 1px solid #eee; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: left; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; font-weight: 600; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.summary dt { color: #555; } dl.summary dd { margin: 0; }
nav a { margin-right: 12px; }
@media print { nav { display: none; } .charts svg { break-inside: avoid; } }
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_page(data: ReportData) -> str:
    """The whole page as a string (UTF-8 HTML5)."""
    body = [
        f"<h1>{escape(data.title)}</h1>",
        "<nav>" + "".join(f'<a href="#{k}">{escape(v)}</a>' for k, v in SECTIONS.items())
        + "</nav>",
        _inputs(data),
        _distributions(data),
        _curves(data),
        _weights(data),
        _clusters(data),
        _blocking(data),
        _borderline(data),
        _quality(data),
        '<p class="how">Counts, rates and encodings only: this page holds no value of any '
        "record, no row token and no secret.</p>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(data.title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _section(key: str, how: str, content: Sequence[str], note: str | None = None) -> str:
    parts = [f'<section id="{key}">', f"<h2>{escape(SECTIONS[key])}</h2>"]
    if how:
        parts.append(f'<p class="how">{how}</p>')
    if note:
        parts.append(f'<p class="note">{escape(note)}</p>')
    parts += content
    parts.append("</section>")
    return "\n".join(parts)


_NUMBER = re.compile(r"[-+]?[0-9][0-9,.]*%?|-")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table; columns holding only numbers are right-aligned, the others left."""
    numeric = [
        all(_NUMBER.fullmatch(str(r[k])) for r in rows) if rows else False
        for k in range(len(headers))
    ]
    align = ["num" if n else "text" for n in numeric]
    head = "".join(f'<th class="{a}">{escape(h)}</th>' for a, h in zip(align, headers, strict=True))
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{a}">{escape(str(c))}</td>' for a, c in zip(align, r, strict=True))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _charts(items: Sequence[str]) -> str:
    return '<div class="charts">' + "\n".join(items) + "</div>"


def _inputs(data: ReportData) -> str:
    rows = []
    for item in data.inputs:
        hardening = item.get("hardening")
        profile = hardening.get("profile") if isinstance(hardening, dict) else None
        rows.append(
            (
                item.get("party", ""),
                f"{int(item.get('rows', 0)):,}",
                str(item.get("schema_fingerprint", ""))[:19] + "…",
                item.get("encoder_version", ""),
                item.get("clk_bits", ""),
                profile or "none",
            )
        )
    summary = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in data.summary
    )
    content = [
        _table(("party", "rows", "schema", "encoder", "CLK bits", "hardening"), rows),
        f'<dl class="summary">{summary}</dl>',
    ]
    if data.threshold_explanation:
        content.append(f'<p class="how">Threshold: {escape(data.threshold_explanation)}</p>')
    return _section("inputs", "What was linked, and what came out.", content)


def _distributions(data: ReportData) -> str:
    charts = []
    for d in data.distributions:
        markers = []
        if d.threshold is not None:
            label = "within-party cut" if d.within_party else "threshold"
            markers.append(svg.Marker(d.threshold, f"{label} {d.threshold:.3f}"))
        if (
            d.within_party
            and data.threshold is not None
            and d.threshold is not None
            and abs(d.threshold - data.threshold) > 1e-9
        ):
            markers.append(
                svg.Marker(data.threshold, f"cross-party {data.threshold:.3f}", "#999999", True)
            )
        title = f"{d.label}: {d.candidates:,} candidates, {d.kept:,} linked"
        charts.append(svg.histogram(d.edges, d.counts, title=title, markers=markers))
    how = (
        "Each chart is one party pair's candidate scores (log scale). Non-matches pile up "
        "on the left, matches on the right; the line is the cut applied to that pair. "
        "Within one party (dedup) the cut is stricter: households and namesakes are "
        "closer there and nothing keeps it one-to-one."
    )
    return _section(
        "score-distributions", how, [_charts(charts)], data.notes.get("distributions")
    )


def _curves(data: ReportData) -> str:
    charts = []
    markers = [] if data.threshold is None else [svg.Marker(data.threshold, "threshold used")]
    if data.curves:
        series = []
        for k, c in enumerate(data.curves):
            colour = svg.PALETTE[2 * k % len(svg.PALETTE)]
            series.append(svg.Series(f"precision, {c.label}", c.thresholds, c.precision,
                                     colour, c.estimated))
            series.append(svg.Series(f"recall, {c.label}", c.thresholds, c.recall,
                                     svg.PALETTE[(2 * k + 1) % len(svg.PALETTE)], c.estimated))
        points = [
            (f"{label} precision", t, p, "#000") for label, t, p, _ in data.quality_points
        ] + [(f"{label} recall", t, r, "#555") for label, t, _, r in data.quality_points]
        lo = min(min(c.thresholds) for c in data.curves)
        hi = max(max(c.thresholds) for c in data.curves)
        charts.append(
            svg.line_chart(
                series,
                title="precision and recall by threshold",
                markers=markers,
                points=points,
                x_range=(min(lo, data.threshold or lo), max(hi, data.threshold or hi)),
                width=560,
                height=280,
            )
        )
    if data.accepted_curve is not None:
        xs, ys = data.accepted_curve
        charts.append(
            svg.line_chart(
                [svg.Series("cross-party candidates at or above", xs, ys, svg.PALETTE[4])],
                title="candidate pairs at or above each threshold",
                markers=markers,
                y_max=float(max(ys) or 1),
                y_label="pairs",
            )
        )
    rows = [
        (label, f"{t:.3f}", f"{p:.4f}", f"{r:.4f}") for label, t, p, r in data.quality_points
    ]
    content = [_charts(charts)]
    if rows:
        content.append(_table(("measure", "threshold", "precision", "recall"), rows))
    how = (
        "Raising the threshold trades recall for precision. Estimated curves (dashed) "
        "come from the link's own model, without labels; true curves (solid) from a truth "
        "file given to <code>hashmatch evaluate</code>."
    )
    return _section("precision-recall", how, content, data.notes.get("curves"))


def _weights(data: ReportData) -> str:
    charts = []
    by_pair: dict[str, list[tuple[str, float]]] = {}
    for w in data.weights:
        for level, weight in w.levels:
            by_pair.setdefault(w.party_pair, []).append((f"{w.field}: {level}", weight))
    for pair, items in by_pair.items():
        charts.append(svg.signed_bars(items, title=pair))
    how = (
        "How much each comparison outcome moves a pair towards (+) or away from (−) a "
        "match, in bits: log2(m/u), where m is how often true matches show it and u how "
        "often non-matches do."
    )
    return _section("match-weights", how, [_charts(charts)], data.notes.get("weights"))


def _clusters(data: ReportData) -> str:
    charts = []
    if data.cluster_sizes:
        charts.append(
            svg.bar_chart(
                [(str(size), n) for size, n in data.cluster_sizes],
                title="entities by number of rows",
                x_label="rows in the entity",
                log=True,
            )
        )
    if data.cluster_parties:
        charts.append(
            svg.bar_chart(
                [(str(parties), n) for parties, n in data.cluster_parties],
                title="entities by number of parties",
                x_label="parties holding the entity",
                color=svg.PALETTE[5],
            )
        )
    how = (
        "Most entities should hold one row per party at most; a long tail of large "
        "entities points to over-merging (a shared placeholder e-mail, a threshold too low)."
    )
    note = None if charts else "report.json holds no entity counts."
    return _section("clusters", how, [_charts(charts)], note)


def _blocking(data: ReportData) -> str:
    methods = sorted({m for b in data.blocking for m in b.per_method})
    rows = []
    for b in data.blocking:
        ratio = "-" if b.reduction_ratio is None else f"{b.reduction_ratio:.4%}"
        recall = "-" if b.recall_estimate is None else f"{b.recall_estimate:.4f}"
        rows.append(
            (
                b.party_pair,
                f"{b.candidates:,}",
                f"{b.full_grid:,}",
                ratio,
                *(f"{b.per_method.get(m, 0):,}" for m in methods),
                f"{b.skipped_pairs:,}",
                recall,
            )
        )
    charts = []
    if data.blocking:
        charts.append(
            svg.hbars(
                [(b.party_pair, b.candidates) for b in data.blocking],
                title="candidate pairs per party pair",
                unit="candidate pairs",
            )
        )
    content = [
        _charts(charts),
        _table(
            ("party pair", "candidates", "full grid", "reduction",
             *(f"by {m}" for m in methods), "skipped", "recall (est.)"),
            rows,
        ),
    ]
    how = (
        "Blocking proposes the candidate pairs worth scoring, from the encodings alone. "
        "The reduction is the share of all row pairs it skipped; a true pair it skipped "
        "can never be linked."
    )
    note = data.notes.get("blocking") or (None if rows else "No blocking statistics.")
    return _section("blocking", how, content, note)


def _borderline(data: ReportData) -> str:
    charts = []
    for k, p in enumerate(data.borderline):
        steps = [(f"{f}: {level}", w or 0.0) for f, level, w in p.fields]
        if p.prior is not None and all(w is not None for _, _, w in p.fields):
            charts.append(
                svg.waterfall(
                    ("prior", p.prior),
                    steps,
                    title=f"pair {k + 1} ({p.party_pair}), score {p.score:.3f}",
                )
            )
    rows = [
        (f"pair {k + 1}", p.party_pair, f"{p.score:.3f}",
         "; ".join(f"{f}: {level}" for f, level, _ in p.fields))
        for k, p in enumerate(data.borderline)
    ]
    content = [_charts(charts)]
    if rows:
        content.append(_table(("pair", "parties", "score", "field levels"), rows))
    if data.borderline_band:
        content.append(
            _table(
                ("party pair", f"candidates within {BORDERLINE_BAND} of the cut"),
                [(pair, f"{n:,}") for pair, n in data.borderline_band],
            )
        )
    how = (
        "Pairs close to the threshold are where mistakes happen. Each field's comparison "
        "level (exact, close, different, missing) and its weight explain the pair's score; "
        "no value is shown or needed."
    )
    return _section("borderline-pairs", how, content, data.notes.get("borderline"))


def _quality(data: ReportData) -> str:
    charts, rows = [], []
    for q in data.quality:
        charts.append(
            svg.stacked_bars(
                [(name, (v, m, i)) for name, v, m, i, _ in q.fields],
                title=f"{q.party}: {q.rows:,} rows",
                parts=("valid", "missing", "invalid"),
            )
        )
        rows += [
            (q.party, name, f"{v:.1%}", f"{m:.1%}", f"{i:.1%}", why)
            for name, v, m, i, why in q.fields
        ]
    content = [_charts(charts)]
    if rows:
        content.append(
            _table(("party", "field", "valid", "missing", "invalid", "main reasons"), rows)
        )
    how = (
        "Per party and field, the share of rows with a usable value. A field under 90% "
        "valid is worth a look: <code>hashmatch profile</code> names the fix."
    )
    return _section("data-quality", how, content, data.notes.get("quality"))
