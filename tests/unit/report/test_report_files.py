"""Reading the parties' quality files and writing report.html next to report.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashmatch.errors import InputDataError, ResultsError
from hashmatch.report import REPORT_HTML, write_report
from hashmatch.report.quality import read_quality

FIXTURE = Path(__file__).parents[2] / "data" / "report" / "report_full.json"


def test_read_quality_keeps_counts_only_and_names_parties(tmp_path: Path) -> None:
    profile = json.loads(FIXTURE.read_text())["data_quality"]["crm"]
    doc = {**profile, "source": "/home/alice/crm.csv", "notes": "anything else"}
    doc["fields"]["email"]["invalid"] = {"email.syntax": 7, "bogus": "x"}
    (tmp_path / "crm.profile.json").write_text(json.dumps(doc))
    (tmp_path / "other.json").write_text(json.dumps(doc))
    got = read_quality([str(tmp_path / "crm.profile.json"), f"shop={tmp_path / 'other.json'}"])
    assert sorted(got) == ["crm", "shop"]
    assert set(got["crm"]) == {"rows_read", "rows_usable", "fields"}  # source, notes dropped
    assert got["crm"]["fields"]["email"]["invalid"] == {"email.syntax": 7}
    with pytest.raises(InputDataError, match="given twice"):
        read_quality([str(tmp_path / "crm.profile.json")] * 2)
    with pytest.raises(InputDataError, match="cannot read"):
        read_quality([str(tmp_path / "missing.json")])


def test_write_report_renders_next_to_report_json(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(FIXTURE.read_text())
    path = write_report(tmp_path, evaluation={"precision": 1.0, "recall": 0.5, "f1": 0.67})
    assert path == tmp_path / REPORT_HTML
    page = path.read_text(encoding="utf-8")
    assert "true, at the threshold used" in page
    with pytest.raises(ResultsError, match="no report.json"):
        write_report(tmp_path / "nowhere")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "report.json").write_text('{"some": "json"}')
    with pytest.raises(ResultsError, match="not a linkage report"):
        write_report(tmp_path / "x")
