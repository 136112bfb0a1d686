"""No input value, and no substring of one of length >= 4, appears in any output.

Covered: the .hme file, the rejects report, the summary on stdout, stderr, log records,
the profile report, ``inspect`` output and error messages. The lookup file holds the
party's record ids by design and never leaves the party, so it is the one exception
(and it must hold nothing but row tokens and those ids).

Text outputs are searched case-insensitively as they are and as a printable-ASCII view
with all other bytes removed (catches values interleaved with NULs, e.g. UTF-16); the
binary .hme for the value as given, lower-cased (canonical values are lower-case) and
as UTF-16; every output also as hex (catches a value written out as hex text).

One exemption, for the human-readable reports and the .hme's JSON header (hex digests,
offsets) only: fragments of 4-6 digits/punctuation without a letter ("1023", "-115"),
since reports print counts, percentages and bit ranges by design; such fragments are
still checked in the .hme body and the rejects file, and longer digit runs (phone numbers, ids,
dates as 8 digits) everywhere. The run is made deterministic (fixed secret,
seeded row tokens, fixed timestamp) so a chance collision in random bytes cannot make the
test flaky: it either always passes or always fails.
"""

from __future__ import annotations

import csv
import logging
import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import hashmatch.encode.encoder as encoder_module
from hashmatch.cli import app
from hashmatch.encode import REJECT_REASONS, LinkageSecret
from hashmatch.normalize import REASONS
from hashmatch.normalize._base import read_data
from hashmatch.readers import ROW_REASONS

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "febrl4"
FEBRL_ROWS = 150
MIN_LEN = 4

#: Rows exercising every path: valid, placeholders, invalid values, bad rows.
MESSY_ROWS = [
    [
        "rec-x-1",
        "Quentavius",
        "Zylberstein",
        "77",
        "Wombleton Crescent",
        "Quokkaville",
        "Xanadoo",
        "2913",
        "act",
        "19710229",
        "8881237",
    ],  # 29 Feb 1971: invalid date
    ["rec-x-2", "N/A", "unknown", "", "", "", "", "", "", "00000000", "9990001"],
    ["rec-x-3", "Brunhildegard", "Okonkwo-Paltrow", "5", "Yarrabundi Road"],  # too few cells
    [
        "rec-x-4",
        "Ferdinandus",
        "Vasquez\udcfcello",
        "12",
        "Lilyvale Street",
        "",
        "Tumbleweed",
        "4001",
        "qld",
        "19591231",
        "7776665",
    ],  # an undecodable byte
]


def _fragments(values: list[str], allowed: str) -> set[str]:
    """Substrings of length 4 (every longer one contains one), and of length 7 without a
    letter (for the numeric exemption below), that are not the tools' own vocabulary."""
    out: set[str] = set()
    for value in values:
        v = value.strip()
        for n in (MIN_LEN, 7):
            for i in range(len(v) - n + 1):
                frag = v[i : i + n]
                if n == 7 and any(c.isalpha() for c in frag):
                    continue
                if frag.strip() == frag and frag.casefold() not in allowed:
                    out.add(frag)
    return out


def _leaks(data: bytes, fragments: set[str], *, text: bool) -> list[str]:
    """Fragments found in ``data``. Text is searched case-insensitively and also with
    non-printable bytes removed; binary data case-sensitively, also as UTF-16 (in random
    bytes a printable-only view would match short strings by chance)."""
    haystacks = [data.lower(), bytes(b for b in data if 32 <= b < 127).lower()] if text else [data]
    as_hex = data.lower()
    found = []
    for frag in fragments:
        try:
            forms = {frag.encode(), frag.lower().encode()}
            if not text:
                forms |= {frag.lower().encode("utf-16-le")}
        except UnicodeEncodeError:  # a lone surrogate: look for its escaped byte
            forms = {frag.encode("utf-8", "surrogateescape")}
        for form in forms:
            needle = form.lower() if text else form
            if any(needle in h for h in haystacks) or form.hex().encode() in as_hex:
                found.append(frag)
                break
    return sorted(found)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A party's folder: its data, schema, mapping and secret; relative paths only."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    seeded = random.Random(1234)
    monkeypatch.setattr(encoder_module.secrets, "token_bytes", seeded.randbytes)
    with (ROOT / "tests/data/febrl4/dataset4a.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))[: FEBRL_ROWS + 1]
    with (tmp_path / "party.csv").open(
        "w", newline="", encoding="utf-8", errors="surrogateescape"
    ) as fh:
        writer = csv.writer(fh)
        writer.writerows(rows)
        writer.writerows(MESSY_ROWS)
    (tmp_path / "schema.toml").write_text((EXAMPLE / "schema.toml").read_text())
    mapping = (EXAMPLE / "mapping.toml").read_text()
    (tmp_path / "mapping.toml").write_text(mapping)
    LinkageSecret(bytes(range(32))).write(tmp_path / "k.secret")
    return tmp_path


def _run_all(runner: CliRunner, data: str, out: str) -> dict[str, Result]:
    """Every command that reads the party's data or its encoding, and a failing one."""
    common = ["--schema", "schema.toml", "--mapping", "mapping.toml"]
    enc = ["encode", data, *common, "--secret", "k.secret", "--party", "p"]
    return {
        "encode": runner.invoke(app, [*enc, "-o", out]),
        "profile": runner.invoke(app, ["profile", data, *common]),
        "profile --json": runner.invoke(app, ["profile", data, *common, "--json"]),
        "inspect": runner.invoke(app, ["inspect", out]),
        "fail-fast": runner.invoke(app, [*enc, "-o", "failed.hme", "--fail-fast"]),
    }


def _vocabulary(header: list[str]) -> str:
    """What the tools print whatever the values: the texts of a run on meaningless values,
    digits and hex removed, plus every reason code and placeholder rule name."""
    control = Path("control.csv")
    with control.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerow(["qj"] * len(header))
        writer.writerow(["qj"])  # a bad row, for the rejects and --fail-fast texts
    results = _run_all(CliRunner(), str(control), "control.hme")
    text = " ".join(r.stdout + r.stderr for r in results.values())
    text += Path("control.rejects.csv").read_text()
    raw = Path("control.hme").read_bytes()  # its JSON header: key and section names
    text += raw[24 : 24 + int.from_bytes(raw[16:24], "little")].decode()
    codes = [
        *REASONS,
        *ROW_REASONS,
        *REJECT_REASONS,
        *(rule for _, rule, _ in read_data("placeholders.csv")),
    ]
    for f in Path().glob("control.*"):
        f.unlink()
    text = text.replace("control.hme", "p.hme").replace("control", "party")  # the real names
    return re.sub(r"[0-9a-f]{16,}|[0-9]", " ", (text + " ".join(codes)).casefold())


def _inputs(workdir: Path) -> tuple[set[str], list[str]]:
    with (workdir / "party.csv").open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        header, *rows = list(csv.reader(fh))
    # Names the party chose for its columns, the schema's field names and the tools' own
    # vocabulary may appear; they are not values.
    allowed = " ".join([*header, (workdir / "schema.toml").read_text(), _vocabulary(header)])
    allowed = allowed.casefold() + " party.csv p.hme p.lookup p.rejects.csv failed.hme"
    values = [v for row in rows for v in row]
    ids = [row[0].strip() for row in rows]
    return _fragments(values, allowed), ids


def test_no_input_fragment_in_any_output(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    fragments, ids = _inputs(workdir)
    assert len(fragments) > 1000  # the check has teeth
    caplog.set_level(logging.DEBUG)
    results = _run_all(CliRunner(), "party.csv", "p.hme")
    assert results["encode"].exit_code == 0, results["encode"].output
    assert "rejected 2" in results["encode"].output
    assert results["fail-fast"].exit_code == 2
    assert not (workdir / "failed.hme").exists()
    for name in ("profile", "profile --json", "inspect"):
        assert results[name].exit_code == 0, results[name].output

    texts = {f"{name} stdout": r.stdout for name, r in results.items()}
    texts |= {f"{name} stderr": r.stderr for name, r in results.items()}
    texts |= {"logs": caplog.text, "rejects": (workdir / "p.rejects.csv").read_text()}
    numeric = {f for f in fragments if len(f) <= 6 and not any(c.isalpha() for c in f)}
    for name, text in texts.items():
        checked = fragments if name == "rejects" else fragments - numeric
        leaks = _leaks(text.encode("utf-8", "surrogateescape"), checked, text=True)
        assert not leaks, f"{name} contains input fragments: {leaks}"
    raw = (workdir / "p.hme").read_bytes()
    end = 24 + int.from_bytes(raw[16:24], "little")  # JSON header: hex digests, offsets
    leaks = _leaks(raw[:end], fragments - numeric, text=True)
    leaks += _leaks(raw[end:], fragments, text=False)
    assert not leaks, f"p.hme contains input fragments: {leaks}"


def test_lookup_holds_only_row_tokens_and_record_ids(workdir: Path) -> None:
    fragments, ids = _inputs(workdir)
    result = CliRunner().invoke(
        app,
        [
            "encode",
            "party.csv",
            "--schema",
            "schema.toml",
            "--mapping",
            "mapping.toml",
            "--secret",
            "k.secret",
            "--party",
            "p",
            "-o",
            "p.hme",
        ],
    )
    assert result.exit_code == 0, result.output
    with (workdir / "p.lookup").open(newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert header == ["row_token", "record_id"]
    assert all(len(token) == 32 and int(token, 16) >= 0 for token, _ in rows)
    assert {rid for _, rid in rows} <= set(ids)
    assert len(rows) == FEBRL_ROWS + 2  # two messy rows encoded, two rejected
