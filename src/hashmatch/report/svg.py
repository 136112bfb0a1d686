"""Small inline-SVG charts for the linkage report: histograms, curves, bars, waterfalls.

Each function returns one ``<svg>`` element as text: no script, no external resource, no
font file, so the report stays one self-contained file that opens offline and prints.
Every chart carries ``role="img"``, a ``<title>`` (read by screen readers and shown on
hover) and ``data-chart`` naming its kind, which the page's tests look for. All text goes
through :func:`html.escape`. Colours are the Okabe-Ito palette (safe for colour-blind
readers); a dashed stroke marks estimates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "Marker",
    "Series",
    "bar_chart",
    "hbars",
    "histogram",
    "line_chart",
    "signed_bars",
    "stacked_bars",
    "waterfall",
]

#: Okabe-Ito colours: blue, orange, green, vermillion, purple, sky, yellow, grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
_MARGIN = (34, 12, 30, 46)  # top, right, bottom, left
_HALO = 'paint-order="stroke" stroke="#fafafa" stroke-width="3"'  # text readable over bars
_LEGEND = 18  # extra height below the x axis label for a legend row


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a label (a threshold)."""

    x: float
    label: str
    color: str = "#D55E00"
    dashed: bool = False


@dataclass(frozen=True)
class Series:
    """One line of a line chart."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = PALETTE[0]
    dashed: bool = False


def _open(kind: str, title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" data-chart="{escape(kind)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {_FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{_MARGIN[3]}" y="16" font-size="12" font-weight="600">{escape(title)}</text>',
    ]


def _fmt(x: float) -> str:
    """``0.25`` -> ``"0.25"``, ``1.0`` -> ``"1"``, ``40000`` -> ``"40000"``."""
    return f"{x:.4f}".rstrip("0").rstrip(".") if abs(x - round(x)) > 1e-9 else str(round(x))


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick positions (steps of 1, 2 or 5 times a power of ten) in
    ``[lo, hi]``.

    >>> nice_ticks(0.2, 1.0)
    [0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * step * 1.0001:
            step *= mult
            break
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 10) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _count_label(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:g}M"
    if n >= 1e3:
        return f"{n / 1e3:g}k"
    return f"{n:g}"


class _Frame:
    """The plotting area and its scales (x linear; y linear or log10(1 + y))."""

    def __init__(
        self,
        width: int,
        height: int,
        x_range: tuple[float, float],
        y_max: float,
        *,
        log: bool = False,
    ) -> None:
        top, right, bottom, left = _MARGIN
        self.x0, self.x1 = left, width - right
        self.y0, self.y1 = height - bottom, top
        self.lo, self.hi = x_range
        self.log = log
        self.y_max = max(y_max, 1e-12)

    def x(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return self.x0 + (value - self.lo) / span * (self.x1 - self.x0)

    def y(self, value: float) -> float:
        if self.log:
            frac = math.log10(1 + max(value, 0)) / math.log10(1 + self.y_max)
        else:
            frac = value / self.y_max
        return self.y0 - min(max(frac, 0.0), 1.0) * (self.y0 - self.y1)

    def axes(self, x_ticks: Sequence[float], y_ticks: Sequence[float], x_label: str,
             y_label: str, *, y_text: bool = True) -> list[str]:
        out = [
            f'<line x1="{self.x0}" y1="{self.y0}" x2="{self.x1}" y2="{self.y0}" stroke="#444"/>',
            f'<line x1="{self.x0}" y1="{self.y0}" x2="{self.x0}" y2="{self.y1}" stroke="#444"/>',
        ]
        for t in x_ticks:
            x = self.x(t)
            out.append(
                f'<line x1="{x:.1f}" y1="{self.y0}" x2="{x:.1f}" y2="{self.y0 + 4}" '
                'stroke="#444"/>'
            )
            out.append(
                f'<text x="{x:.1f}" y="{self.y0 + 15}" text-anchor="middle">{_fmt(t)}</text>'
            )
        for t in y_ticks:
            y = self.y(t)
            out.append(
                f'<line x1="{self.x0}" y1="{y:.1f}" x2="{self.x1}" y2="{y:.1f}" '
                'stroke="#ddd"/>'
            )
            if y_text:
                out.append(
                    f'<text x="{self.x0 - 4}" y="{y + 4:.1f}" text-anchor="end">'
                    f"{_count_label(t) if t >= 1000 else _fmt(t)}</text>"
                )
        out.append(
            f'<text x="{(self.x0 + self.x1) / 2:.1f}" y="{self.y0 + 27}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
        )
        if y_label:
            out.append(
                f'<text x="10" y="{(self.y0 + self.y1) / 2:.1f}" text-anchor="middle" '
                f'transform="rotate(-90 10 {(self.y0 + self.y1) / 2:.1f})">{escape(y_label)}'
                "</text>"
            )
        return out

    def marker(self, m: Marker, row: int) -> list[str]:
        x = self.x(min(max(m.x, self.lo), self.hi))
        dash = ' stroke-dasharray="4 3"' if m.dashed else ""
        anchor = "end" if x > (self.x0 + self.x1) / 2 else "start"
        dx = -4 if anchor == "end" else 4
        return [
            f'<line data-marker="{escape(m.label)}" x1="{x:.1f}" y1="{self.y0}" x2="{x:.1f}" '
            f'y2="{self.y1}" stroke="{m.color}" stroke-width="2"{dash}/>',
            f'<text x="{x + dx:.1f}" y="{self.y1 + 12 + 12 * row}" text-anchor="{anchor}" '
            f'fill="{m.color}" {_HALO}>{escape(m.label)}</text>',
        ]


def _log_ticks(y_max: float) -> list[float]:
    ticks, t = [], 1.0
    while t <= y_max:
        ticks.append(t)
        t *= 10
    return ticks


def _linear_ticks(y_max: float, n: int = 4) -> list[float]:
    if y_max <= 0:
        return [0.0]
    raw = y_max / n
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * step:
            step *= mult
            break
    return [k * step for k in range(int(y_max // step) + 1)]


def histogram(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    title: str,
    markers: Sequence[Marker] = (),
    x_label: str = "score",
    log: bool = True,
    width: int = 420,
    height: int = 220,
    color: str = PALETTE[0],
) -> str:
    """Bars of ``counts`` over ``edges`` (``len(edges) == len(counts) + 1``), counts on a
    log scale by default (non-matches outnumber matches by orders of magnitude)."""
    if len(edges) != len(counts) + 1:
        msg = f"histogram: {len(edges)} edges for {len(counts)} counts"
        raise ValueError(msg)
    y_max = max(counts, default=0) or 1
    frame = _Frame(width, height, (edges[0], edges[-1]), y_max, log=log)
    out = _open("histogram", title, width, height)
    y_ticks = _log_ticks(y_max) if log else _linear_ticks(y_max)
    out += frame.axes(
        nice_ticks(edges[0], edges[-1]),
        y_ticks,
        x_label,
        "pairs (log)" if log else "pairs",
    )
    for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
        if c <= 0:
            continue
        x0, x1, y = frame.x(lo), frame.x(hi), frame.y(c)
        out.append(
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 0.5, 0.5):.1f}" '
            f'height="{frame.y0 - y:.1f}" fill="{color}"><title>{lo:.2f}-{hi:.2f}: '
            f"{c:,}</title></rect>"
        )
    for row, m in enumerate(markers):
        out += frame.marker(m, row)
    out.append("</svg>")
    return "\n".join(out)


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    markers: Sequence[Marker] = (),
    points: Sequence[tuple[str, float, float, str]] = (),
    x_label: str = "threshold",
    y_label: str = "",
    x_range: tuple[float, float] = (0.0, 1.0),
    y_max: float | None = None,
    width: int = 420,
    height: int = 240,
) -> str:
    """Lines (with a legend) on [x_range] x [0, y_max], vertical markers, labelled points
    ``(label, x, y, colour)``. ``y_max`` None: [0, 1] (shares)."""
    top = y_max if y_max is not None else 1.0
    frame = _Frame(width, height, x_range, top)
    height += _LEGEND * ((len(series) + 1) // 2)
    out = _open("line", title, width, height)
    ticks = [k / 4 for k in range(5)] if y_max is None else _linear_ticks(top)
    out += frame.axes(nice_ticks(*x_range), ticks, x_label, y_label)
    for s in series:
        coords = " ".join(
            f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in zip(s.xs, s.ys, strict=True)
        )
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        out.append(
            f'<polyline data-series="{escape(s.label)}" points="{coords}" fill="none" '
            f'stroke="{s.color}" stroke-width="2"{dash}><title>{escape(s.label)}</title>'
            "</polyline>"
        )
    for label, x, y, color in points:
        out.append(
            f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="4" fill="{color}">'
            f"<title>{escape(label)}: {y:.4f} at {x:.3f}</title></circle>"
        )
    for row, m in enumerate(markers):
        out += frame.marker(m, row)
    for k, s in enumerate(series):  # legend: two entries per row below the axis label
        x = 8 + (k % 2) * (width / 2)
        y = frame.y0 + 27 + _LEGEND * (k // 2 + 1)
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        out.append(
            f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 16:.1f}" y2="{y - 4}" '
            f'stroke="{s.color}" stroke-width="2"{dash}/>'
            f'<text x="{x + 20:.1f}" y="{y}">{escape(s.label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    x_label: str,
    log: bool = False,
    width: int = 420,
    height: int = 200,
    color: str = PALETTE[2],
) -> str:
    """Vertical bars, one per ``(label, value)``, in the order given."""
    y_max = max((v for _, v in bars), default=0) or 1
    n = max(len(bars), 1)
    frame = _Frame(width, height, (0.0, float(n)), y_max, log=log)
    out = _open("bars", title, width, height)
    out += frame.axes([], _log_ticks(y_max) if log else _linear_ticks(y_max), x_label, "")
    step = (frame.x1 - frame.x0) / n
    for k, (label, value) in enumerate(bars):
        x, y = frame.x0 + k * step, frame.y(value)
        out.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
            f'height="{frame.y0 - y:.1f}" fill="{color}"><title>{escape(label)}: '
            f"{value:,.0f}</title></rect>"
        )
        if n <= 24:
            out.append(
                f'<text x="{x + step / 2:.1f}" y="{frame.y0 + 13}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    out.append("</svg>")
    return "\n".join(out)


def signed_bars(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "bits",
    width: int = 420,
    row: int = 18,
) -> str:
    """Horizontal bars left (negative, vermillion) or right (positive, green) of zero."""
    height = _MARGIN[0] + row * max(len(items), 1) + 24
    reach = max((abs(v) for _, v in items), default=1.0) or 1.0
    label_w = 150
    width += 30  # room for the value labels at both ends
    x_mid = label_w + (width - label_w - 16) / 2
    half = (width - label_w - 16) / 2 - 30
    out = _open("signed-bars", title, width, height)
    out.append(
        f'<line x1="{x_mid:.1f}" y1="{_MARGIN[0]}" x2="{x_mid:.1f}" y2="{height - 20}" '
        'stroke="#444"/>'
    )
    for k, (label, value) in enumerate(items):
        y = _MARGIN[0] + k * row
        w = abs(value) / reach * half
        x = x_mid if value >= 0 else x_mid - w
        color = PALETTE[2] if value >= 0 else PALETTE[3]
        tx, anchor = (x + w + 3, "start") if value >= 0 else (x - 3, "end")
        out.append(
            f'<text x="{label_w - 6}" y="{y + row * 0.7:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{x:.1f}" y="{y + 2}" width="{max(w, 0.5):.1f}" height="{row - 5}" '
            f'fill="{color}"><title>{escape(label)}: {value:+.2f} {escape(unit)}</title></rect>'
            f'<text x="{tx:.1f}" y="{y + row * 0.7:.1f}" text-anchor="{anchor}">'
            f"{value:+.1f}</text>"
        )
    out.append(
        f'<text x="{x_mid:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(unit)} of evidence (&#8722; against, + for a match)</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def hbars(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str,
    width: int = 420,
    row: int = 18,
    color: str = PALETTE[0],
) -> str:
    """Horizontal bars from zero, one per ``(label, value)``, each with its value."""
    label_w = 150
    height = _MARGIN[0] + row * max(len(items), 1) + 24
    reach = max((v for _, v in items), default=1.0) or 1.0
    span = width - label_w - 70
    out = _open("hbars", title, width, height)
    for k, (label, value) in enumerate(items):
        y = _MARGIN[0] + k * row
        w = max(value, 0) / reach * span
        out.append(
            f'<text x="{label_w - 6}" y="{y + row * 0.7:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 2}" width="{max(w, 0.5):.1f}" height="{row - 5}" '
            f'fill="{color}"><title>{escape(label)}: {value:,.0f} {escape(unit)}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + row * 0.7:.1f}">{value:,.0f}</text>'
        )
    out.append(
        f'<text x="{label_w + span / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{escape(unit)}</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def waterfall(
    start: tuple[str, float],
    steps: Sequence[tuple[str, float]],
    *,
    title: str,
    total_label: str = "total",
    width: int = 420,
    row: int = 18,
) -> str:
    """A horizontal waterfall: ``start`` (e.g. the prior), each step's signed change
    (a field's weight) from where the previous one ended, then the total."""
    values = [start[1]]
    for _, delta in steps:
        values.append(values[-1] + delta)
    lo, hi = min(0.0, *values), max(0.0, *values)
    span = (hi - lo) or 1.0
    label_w = 150
    height = _MARGIN[0] + row * (len(steps) + 2) + 8
    out = _open("waterfall", title, width, height)

    def x(v: float) -> float:
        return label_w + (v - lo) / span * (width - label_w - 16)

    out.append(
        f'<line x1="{x(0):.1f}" y1="{_MARGIN[0]}" x2="{x(0):.1f}" y2="{height - 8}" '
        'stroke="#444"/>'
    )
    rows = [(start[0], 0.0, start[1], PALETTE[7])]
    for (label, delta), before in zip(steps, values[:-1], strict=True):
        rows.append((label, before, before + delta, PALETTE[2] if delta >= 0 else PALETTE[3]))
    rows.append((total_label, 0.0, values[-1], PALETTE[0]))
    for k, (label, a, b, color) in enumerate(rows):
        y = _MARGIN[0] + k * row
        left, right = sorted((x(a), x(b)))
        out.append(
            f'<text x="{label_w - 6}" y="{y + row * 0.7:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{left:.1f}" y="{y + 2}" width="{max(right - left, 0.5):.1f}" '
            f'height="{row - 5}" fill="{color}"><title>{escape(label)}: {b - a:+.2f}</title>'
            "</rect>"
        )
    out.append("</svg>")
    return "\n".join(out)


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    parts: Sequence[str],
    width: int = 420,
    row: int = 18,
) -> str:
    """One horizontal bar per row split into ``parts`` (shares summing to at most 1)."""
    label_w = 120
    height = _MARGIN[0] + row * max(len(rows), 1) + 26
    span = width - label_w - 16
    out = _open("stacked-bars", title, width, height)
    for k, (label, shares) in enumerate(rows):
        y = _MARGIN[0] + k * row
        out.append(
            f'<text x="{label_w - 6}" y="{y + row * 0.7:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        x = float(label_w)
        for part, share in zip(parts, shares, strict=True):
            w = max(share, 0.0) * span
            if w <= 0:
                continue
            color = PALETTE[list(parts).index(part) * 2 % len(PALETTE)]
            out.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" '
                f'fill="{color}"><title>{escape(label)} {escape(part)}: {share:.1%}</title></rect>'
            )
            x += w
    legend_y = height - 8
    x = float(label_w)
    for k, part in enumerate(parts):
        color = PALETTE[k * 2 % len(PALETTE)]
        out.append(
            f'<rect x="{x:.1f}" y="{legend_y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14:.1f}" y="{legend_y}">{escape(part)}</text>'
        )
        x += 14 + 7 * len(part) + 14
    out.append("</svg>")
    return "\n".join(out)
