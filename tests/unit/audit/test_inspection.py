"""inspect_file: aggregates that match a direct count, warnings that name the fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashmatch.audit.inspection import inspect_file, iter_histogram_lines
from hashmatch.encfile import EncodingWriter
from hashmatch.errors import TamperedFileError

ROWS = 200
# Three 64-bit segments: "name" well filled, "dob" nearly empty, "city" saturated.
SEGMENTS = [("name", 0, 64), ("dob", 64, 64), ("city", 128, 64)]
FIELDS = ["name", "dob", "city", "email"]


def _data(seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def bits(p: float) -> np.ndarray:
        return np.packbits(rng.random((ROWS, 64)) < p, axis=1, bitorder="little").view("<u8")

    clks = np.hstack([bits(0.4), bits(0.01), bits(0.9)]).astype(np.uint64)
    clks[10:22] = clks[5]  # twelve copies of row 5
    clks[30:33] = 0  # three empty CLKs
    present = np.ones((ROWS, len(FIELDS)), bool)
    present[:50, 0] = False  # name missing in a quarter of the rows
    present[:, 3] = False  # email never present
    email = rng.integers(1, 255, (ROWS, 16), dtype=np.uint8)
    email[::4] = 0  # a quarter of the tokens missing
    return {"clks": clks, "present": present, "email": email}


def _write(path: Path, data: dict[str, np.ndarray], extra: dict | None = None) -> Path:
    with EncodingWriter(
        path,
        party="crm",
        schema_fingerprint="sha256:00",
        clk_bits=192,
        segments=SEGMENTS,
        token_names=["email"],
        field_names=FIELDS,
        extra=extra,
    ) as w:
        w.append(
            data["clks"],
            {"email": data["email"]},
            data["present"],
            np.zeros((ROWS, 16), np.uint8),
        )
    return path


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return _data()


@pytest.fixture(scope="module")
def hme(tmp_path_factory: pytest.TempPathFactory, data: dict[str, np.ndarray]) -> Path:
    return _write(tmp_path_factory.mktemp("inspect") / "crm.hme", data)


def _popcounts(clks: np.ndarray) -> np.ndarray:
    return np.unpackbits(clks.view(np.uint8), axis=1).sum(axis=1)


def test_rates_and_fills_equal_a_direct_count(hme: Path, data: dict[str, np.ndarray]) -> None:
    report = inspect_file(hme)
    assert report.rows == ROWS
    assert [(f.name, f.missing_rate) for f in report.fields] == [
        ("name", 0.25),
        ("dob", 0.0),
        ("city", 0.0),
        ("email", 1.0),
    ]
    assert [(t.name, t.missing_rate) for t in report.tokens] == [("email", 0.25)]
    for seg, (name, start, bits) in zip(report.segments, SEGMENTS, strict=True):
        rows = data["present"][:, FIELDS.index(name)]
        words = data["clks"][rows, start // 64]
        assert seg.mean_fill == pytest.approx(
            _popcounts(words[:, None]).sum() / (rows.sum() * bits)
        )
    assert [s.status for s in report.segments] == ["ok", "nearly empty", "saturated"]


def test_duplicates_empties_and_popcounts(hme: Path, data: dict[str, np.ndarray]) -> None:
    report = inspect_file(hme)
    counts = _popcounts(data["clks"])
    nonempty = np.sort(counts[counts > 0])
    assert report.empty_clk_rows == 3
    assert report.duplicate_clk_rows == 12
    assert report.popcount is not None
    assert (report.popcount.min, report.popcount.max) == (nonempty[0], nonempty[-1])
    assert report.popcount.mean == pytest.approx(nonempty.mean())
    assert sum(b.rows for b in report.popcount.histogram) == nonempty.size
    lines = list(iter_histogram_lines(report.popcount))
    assert len(lines) == len(report.popcount.histogram)
    assert lines[0].split()[-1] == str(report.popcount.histogram[0].rows)


def test_warnings_name_the_field_and_the_fix(hme: Path) -> None:
    warnings = "\n".join(inspect_file(hme).warnings)
    assert "segment 'dob' is nearly empty" in warnings and "raise its k" in warnings
    assert "segment 'city' is saturated" in warnings and "lower its k" in warnings
    assert "field 'email' is missing in every row: check the mapping" in warnings
    assert "3 row(s) have an empty CLK" in warnings
    assert "repeat an earlier row's CLK" in warnings  # 12 of 200 > 5%


def test_chunked_reading_gives_the_same_report(hme: Path) -> None:
    assert inspect_file(hme, chunk_rows=7).to_dict() == inspect_file(hme).to_dict()


def test_the_json_form_holds_aggregates_and_no_row(hme: Path, data: dict[str, np.ndarray]) -> None:
    doc = inspect_file(hme).to_dict()
    text = json.dumps(doc)
    assert "sections" not in doc["header"] and doc["rows"] == ROWS
    assert doc["hardening"] == "none"
    for token in data["email"][1:4]:
        assert token.tobytes().hex() not in text


def test_the_hardening_recorded_in_the_header_is_shown(
    tmp_path: Path, data: dict[str, np.ndarray]
) -> None:
    extra = {
        "hardening": {
            "profile": "recommended",
            "options": {"permute": True, "balance": True, "blip": {"epsilon": 25.0}},
        }
    }
    report = inspect_file(_write(tmp_path / "h.hme", data, extra))
    # made when "recommended" meant balance + BLIP epsilon 25: the label says so
    assert report.hardening == (
        "recommended (an earlier definition, today's recommended-v1): "
        "balance, blip epsilon=25.0, permute"
    )
    extra["hardening"] = {"profile": "recommended", "options": {"permute": True, "even": True}}
    assert inspect_file(_write(tmp_path / "n.hme", data, extra)).hardening == (
        "recommended: even, permute"
    )


def test_a_tampered_file_is_refused(tmp_path: Path, data: dict[str, np.ndarray]) -> None:
    path = _write(tmp_path / "t.hme", data)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(TamperedFileError):
        inspect_file(path)
