"""report.html in a real headless browser: no console error, every section and chart.

Chromium (Debian's ``chromium``; ``.ci/run`` installs it when missing) opens the page
from a file, with the DevTools protocol watching the console, uncaught exceptions, the
browser log and every request. Skipped when no Chromium is installed, except under
``CI=true``, where a missing browser is a failure. The screenshot of the full page is
saved as ``report.png`` in the test's temporary folder (and in ``$HASHMATCH_SCREENSHOTS``
when that is set) for a person to look at.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hashmatch.report import SECTIONS, render_html
from tests.browser import chromium, find_chromium

FIXTURE = Path(__file__).parents[2] / "data" / "report" / "report_full.json"
#: Chart kinds each section must draw when report.json carries the scoring model's data.
CHARTS = {
    "score-distributions": "histogram",
    "precision-recall": "line",
    "match-weights": "signed-bars",
    "clusters": "bars",
    "blocking": "hbars",
    "borderline-pairs": "waterfall",
    "data-quality": "stacked-bars",
}
QUERY = """JSON.stringify({
  sections: Object.fromEntries([...document.querySelectorAll('section')].map(s => [s.id,
    [...s.querySelectorAll('svg[data-chart]')].map(c => c.dataset.chart)])),
  width: document.documentElement.scrollWidth,
  series: [...document.querySelectorAll('polyline[data-series]')].map(p => p.dataset.series),
})"""


@pytest.fixture(scope="module")
def browser_binary() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (.ci/run installs it: apt-get install chromium)")
        pytest.skip("chromium is not installed")
    return binary


def _visit(binary: str, html: str, folder: Path, name: str) -> dict[str, Any]:
    page = folder / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    with chromium(binary) as browser:
        visit = browser.visit(page.as_uri(), QUERY)
    assert visit.errors == []
    assert visit.requests == [page.as_uri()]  # nothing fetched but the page itself
    shot = folder / f"{name}.png"
    shot.write_bytes(visit.screenshot)
    keep = os.environ.get("HASHMATCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    image = Image.open(io.BytesIO(visit.screenshot))
    assert image.format == "PNG" and image.height > 1500
    return dict(json.loads(visit.value))


def test_full_report_renders_every_section_and_chart(
    browser_binary: str, tmp_path: Path
) -> None:
    report = json.loads(FIXTURE.read_text(encoding="utf-8"))
    curve = [{"threshold": t / 100, "precision": 0.95 + t / 5000, "recall": 1 - t / 200}
             for t in range(57, 100, 3)]
    evaluation = {"precision": 0.97, "recall": 0.95, "f1": 0.96, "curve": curve,
                  "source": "truth.csv"}
    dom = _visit(browser_binary, render_html(report, evaluation=evaluation), tmp_path, "report")
    assert list(dom["sections"]) == list(SECTIONS)
    for section, kind in CHARTS.items():
        assert kind in dom["sections"][section], (section, dom["sections"][section])
    assert dom["sections"]["score-distributions"].count("histogram") == len(report["party_pairs"])
    assert any("estimated" in s for s in dom["series"]) and any("true" in s for s in dom["series"])
    assert dom["width"] <= 1280  # nothing overflows the viewport sideways


def test_report_without_model_data_still_has_every_section(
    browser_binary: str, tmp_path: Path
) -> None:
    report = json.loads(FIXTURE.read_text(encoding="utf-8"))
    plain = copy.deepcopy(report)
    for key in ("estimated", "borderline_pairs", "data_quality"):
        del plain[key]
    for p in plain["party_pairs"]:
        del p["model"]
    dom = _visit(browser_binary, render_html(plain), tmp_path, "report-plain")
    assert list(dom["sections"]) == list(SECTIONS)
    assert "line" in dom["sections"]["precision-recall"]  # pairs at or above each threshold
    assert "signed-bars" in dom["sections"]["match-weights"]  # token evidence
