"""The linkage report people read in a browser: ``RESULTS/report.html``.

``hashmatch link`` writes it next to ``report.json`` (and says where); ``hashmatch
evaluate ... --html RESULTS/report.html`` renders it again with the true precision and
recall beside the estimates. One self-contained file: inline SVG drawn by
:mod:`hashmatch.report.svg`, no script, no network. The page reads ``report.json``-like
data only (see :mod:`hashmatch.report.data` for the keys), so it is coordinator-side code
that never touches a value, a secret or a row token::

    from hashmatch.report import write_report
    write_report("RESULTS/")                       # RESULTS/report.json -> report.html
    write_report("RESULTS/", evaluation={"precision": 0.97, "recall": 0.95, "f1": 0.96})

Jobs: :mod:`~hashmatch.report.data` assembles the sections, :mod:`~hashmatch.report.svg`
draws charts, :mod:`~hashmatch.report.page` lays out the page; this module reads and
writes files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hashmatch.atomic import atomic_write_text
from hashmatch.errors import ResultsError
from hashmatch.report.data import ReportData, assemble
from hashmatch.report.page import SECTIONS, render_page

__all__ = ["REPORT_HTML", "SECTIONS", "ReportData", "assemble", "render_html", "write_report"]

#: File name of the page in a results folder.
REPORT_HTML = "report.html"


def render_html(
    report: Mapping[str, Any],
    *,
    evaluation: Mapping[str, Any] | None = None,
    quality: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "Linkage report",
) -> str:
    """The page for ``report`` (a parsed ``report.json``), as HTML text.

    ``evaluation``: what ``hashmatch evaluate`` measured (``precision``, ``recall``,
    ``f1``, optionally ``curve`` and ``source``); ``quality``: per party, a ``hashmatch
    profile --json`` document.
    """
    return render_page(assemble(report, evaluation=evaluation, quality=quality, title=title))


def write_report(
    results: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    evaluation: Mapping[str, Any] | None = None,
    quality: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Render ``RESULTS/report.json`` (or a report.json path) to ``out`` atomically.

    ``out`` defaults to ``report.html`` next to the report. Returns the path written.

    Raises
    ------
    ResultsError
        The report is missing or not a linkage report.
    """
    source = Path(results)
    if source.is_dir():
        source = source / "report.json"
    try:
        report = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{source}: no report.json here"
        raise ResultsError(msg, hint="run hashmatch link first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{source}: not a readable report.json ({type(exc).__name__})"
        raise ResultsError(msg) from None
    if not isinstance(report, dict) or "format_version" not in report:
        raise ResultsError(f"{source}: not a linkage report (no format_version)")
    target = Path(out) if out is not None else source.with_name(REPORT_HTML)
    atomic_write_text(target, render_html(report, evaluation=evaluation, quality=quality))
    return target
