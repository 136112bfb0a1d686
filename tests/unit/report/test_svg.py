"""Inline-SVG charts: well-formed, labelled, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from hashmatch.report import svg

NS = "{http://www.w3.org/2000/svg}"


def _parse(text: str) -> ET.Element:
    return ET.fromstring(text)  # raises on malformed XML


def test_histogram_draws_one_bar_per_filled_bin_and_its_markers() -> None:
    edges = [k / 10 for k in range(11)]
    counts = [0, 5, 500, 40, 3, 0, 0, 2, 30, 80]
    root = _parse(svg.histogram(edges, counts, title="a ~ b",
                                markers=[svg.Marker(0.57, "threshold 0.570")]))
    assert root.get("data-chart") == "histogram" and root.get("role") == "img"
    assert root.find(f"{NS}title").text == "a ~ b"
    assert len(root.findall(f"{NS}rect")) == sum(1 for c in counts if c)
    assert [m.get("data-marker") for m in root.iter(f"{NS}line") if m.get("data-marker")] == [
        "threshold 0.570"
    ]


def test_histogram_refuses_mismatched_edges() -> None:
    with pytest.raises(ValueError, match="edges"):
        svg.histogram([0, 1], [1, 2], title="x")


def test_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & "quotes"'
    for chart in (
        svg.histogram([0, 1], [3], title=hostile, markers=[svg.Marker(0.5, hostile)]),
        svg.line_chart([svg.Series(hostile, [0, 1], [0, 1])], title=hostile),
        svg.bar_chart([(hostile, 3)], title=hostile, x_label=hostile),
        svg.hbars([(hostile, 3)], title=hostile, unit=hostile),
        svg.signed_bars([(hostile, -2.0)], title=hostile),
        svg.waterfall((hostile, -3.0), [(hostile, 2.0)], title=hostile),
        svg.stacked_bars([(hostile, (0.5, 0.5))], title=hostile, parts=("a", hostile)),
    ):
        assert "<script" not in chart
        root = _parse(chart)
        assert root.find(f"{NS}title").text == hostile


def test_line_chart_marks_estimates_dashed() -> None:
    root = _parse(svg.line_chart(
        [svg.Series("true", [0, 1], [0, 1]), svg.Series("est", [0, 1], [1, 0], dashed=True)],
        title="pr",
    ))
    lines = {p.get("data-series"): p for p in root.iter(f"{NS}polyline")}
    assert lines["est"].get("stroke-dasharray") and not lines["true"].get("stroke-dasharray")


def test_waterfall_ends_at_the_sum() -> None:
    root = _parse(svg.waterfall(("prior", -10.0), [("a", 6.0), ("b", 7.0)], title="w"))
    titles = [r.find(f"{NS}title").text for r in root.iter(f"{NS}rect")]
    assert titles == ["prior: -10.00", "a: +6.00", "b: +7.00", "total: +3.00"]


def test_nice_ticks() -> None:
    assert svg.nice_ticks(0.2, 1.0) == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0, 45000) == [0, 10000, 20000, 30000, 40000]
