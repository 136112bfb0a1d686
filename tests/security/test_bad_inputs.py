"""A corpus of bad (and awkward but good) party files, run through every command that
reads one: ``encode``, ``profile``, ``schema new`` and ``schema check --data``.

Each case is generated here from one small party of made-up, distinctive values. For
every case and command the test asserts:

* the exit status (0, or 2 with the expected words in the error and a hint);
* no Python traceback in anything printed;
* no input value (nor any substring of 4+ characters of one holding a letter, nor a
  whole date or number of 7+ characters) in anything printed, in the rejects report or
  in the schema and mapping ``schema new`` writes;
* for ``encode``: every data row is encoded or in the rejects report (counted in the
  lookup and the report, against the rows the case wrote), with the expected reason
  codes, and nothing is written when the run fails.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import hashmatch
from hashmatch.cli import app
from hashmatch.encode import LinkageSecret

HEADER = ["id", "first_name", "last_name", "dob", "email", "city"]
ROWS = 40
SCHEMA = """version = 1
[clk]
bits = 512
[[fields]]
name = "first_name"
type = "name"
bloom = true
[[fields]]
name = "last_name"
type = "name"
bloom = true
required = true
[[fields]]
name = "dob"
type = "date"
bloom = true
[[fields]]
name = "email"
type = "email"
bloom = true
exact = true
"""
MAPPING = 'record_id = "id"\n[fields.dob]\ndate_formats = ["%Y-%m-%d"]\n'
#: Names are made of rare letter pairs, so a 4-letter piece of one is no English word the
#: tools print ("Parquet" holds "rque").
_SYLLABLES = ["qz", "xv", "zq", "vx", "jq", "qj", "zx", "kq", "qk", "xj", "wq", "vq"]


def _party() -> list[list[str]]:
    rng = random.Random(11)

    def word() -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()

    rows = []
    for _ in range(ROWS):
        first, last = word(), word()
        dob = f"{rng.randrange(1931, 2004)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        email = f"{first.lower()}.{last.lower()}@qzjxv.nz"
        rows.append([f"Q{rng.randrange(10**7, 10**8)}", first, last, dob, email, word()])
    return rows


PARTY = _party()


def _csv(rows: list[list[str]], header: list[str] | None = HEADER, **fmt: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=fmt.pop("lineterminator", "\n"), **fmt)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _with(row: int, column: str, value: str) -> list[list[str]]:
    rows = [list(r) for r in PARTY]
    rows[row - 1][HEADER.index(column)] = value
    return rows


def _lines(text: str, edit: Callable[[list[str]], None]) -> str:
    lines = text.split("\n")
    edit(lines)
    return "\n".join(lines)


def _unclosed(lines: list[str]) -> None:
    lines[21] = lines[21].replace(",", ',"', 1)  # data row 21: a quote never closed


def _parquet(path: Path) -> None:
    pq.write_table(pa.table(dict(zip(HEADER, zip(*PARTY, strict=True), strict=True))), path)


@dataclass
class Case:
    """One input file and what every command must do with it."""

    name: str
    content: bytes | Callable[[Path], None]  # the file's bytes, or a writer of the file
    suffix: str = ".csv"
    options: tuple[str, ...] = ()  # given to every command (e.g. --input-encoding)
    error: str | None = None  # words of the error every command must give (exit 2)
    rows: int = ROWS  # data rows encode must account for
    reasons: dict[str, int] = field(default_factory=dict)  # reject reason -> rows
    errors: dict[str, str | None] = field(default_factory=dict)  # per command: overrides
    stdin: bool = False  # fed to encode and profile as "-"
    values: tuple[str, ...] = ()  # input values beyond PARTY's, for the leak check

    def expected_error(self, command: str) -> str | None:
        """Words of the error ``command`` must give, None when it must succeed."""
        return self.errors.get(command, self.error)

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}{self.suffix}"
        if callable(self.content):
            self.content(path)
        else:
            path.write_bytes(self.content)
        return path


GOOD = _csv(PARTY)
READERS = ("encode", "profile")  # the commands that read every row (the others: a sample)
_RANDOM = random.Random(5).randbytes(20_000)
_HUGE = "x" * 10_000_000
_WIDE_HEADER = HEADER + [f"extra_{i}" for i in range(994)]
_EMOJI = ["Zoë 👩‍🚀", "\u202eNaqhtorv", "שָׁלוֹם", "李小龍", "Ǆemal"]

CASES = [
    Case("good", GOOD.encode()),
    Case("bom_crlf", codecs.BOM_UTF8 + _csv(PARTY, lineterminator="\r\n").encode()),
    Case("semicolons", _csv(PARTY, delimiter=";").encode()),
    Case("tabs", _csv(PARTY, delimiter="\t").encode()),
    Case("pipes", _csv(PARTY, delimiter="|").encode()),
    Case("pipes_given", _csv(PARTY, delimiter="|").encode(), options=("--delimiter", "pipe")),
    Case("utf16_bom", GOOD.encode("utf-16")),
    Case("utf16le_no_bom", GOOD.encode("utf-16-le")),
    Case("utf16be_no_bom", GOOD.encode("utf-16-be")),
    Case("utf32_bom", GOOD.encode("utf-32")),
    Case(
        "utf16_said_latin1",
        GOOD.encode("utf-16"),
        options=("--input-encoding", "latin-1"),
        error="pass --input-encoding utf-16",
    ),
    Case("gzip", gzip.compress(GOOD.encode(), mtime=0), suffix=".csv.gz"),
    Case("gzip_no_suffix", gzip.compress(GOOD.encode(), mtime=0)),
    Case("parquet", _parquet, suffix=".parquet"),
    Case("parquet_named_csv", _parquet),
    Case("xlsx", b"PK\x03\x04\x14\x00\x06\x00" + _RANDOM, suffix=".xlsx", error="not a CSV file"),
    Case("binary", _RANDOM, error="this is not a CSV file"),
    Case(
        "truncated_gzip",
        gzip.compress((GOOD * 200).encode(), mtime=0)[:3000],
        suffix=".csv.gz",
        error="ends early",
        errors={"schema check": None},  # it reads the header only, which is whole
    ),
    Case("no_header", _csv(PARTY, header=None).encode(), error="first row looks like data"),
    Case(
        "no_header_names_only",  # nothing value-like in the first row: nothing found either
        _csv([r[1:3] + r[5:] for r in PARTY], header=None).encode(),
        error="no column named by the mapping or the schema",
        errors={"schema new": "no column of"},
    ),
    Case(
        "unclosed_quote",
        _lines(GOOD, _unclosed).encode(),
        reasons={"row.unclosed_quote": 1},
    ),
    Case(
        "duplicate_ids",
        _csv(_with(7, "id", PARTY[2][0]) + [PARTY[0], PARTY[5]]).encode(),
        rows=ROWS + 2,
        reasons={"record_id.duplicate": 3},
    ),
    Case(
        "no_row_encoded",
        _csv([[*r[:2], "", *r[3:]] for r in PARTY]).encode(),
        errors={"encode": "no row was encoded: all 40 rows were rejected (required.empty 40)"},
    ),
    Case("empty", b"", error="empty"),
    Case("blank_lines_only", b"\n\n \r\n", error="empty"),
    Case("header_only", _csv([]).encode(), errors=dict.fromkeys(READERS, "no data rows")),
    Case("huge_field", _csv(_with(9, "city", _HUGE)).encode(), reasons={"row.field_too_long": 1}),
    Case(
        "thousand_columns",
        _csv([r + ["v"] * 994 for r in PARTY], header=_WIDE_HEADER).encode(),
    ),
    Case("nul_bytes", _csv(_with(3, "city", "Ox\x00\x00ford") + []).encode()),
    Case(
        "emoji_rtl_names",
        _csv([[r[0], _EMOJI[i % 5], *r[2:]] for i, r in enumerate(PARTY)]).encode(),
        values=tuple(_EMOJI),
    ),
    Case(
        "ragged_rows",
        _csv(PARTY[:10] + [PARTY[10][:3], PARTY[11] + ["spare"]] + PARTY[12:]).encode(),
        reasons={"row.column_count": 2},
    ),
    Case(
        "garbage_dates",
        _csv([[*r[:3], ["31.02.x", "0000-00-00", "99/99/9999", "🙂"][i % 4], *r[4:]]
              for i, r in enumerate(PARTY)]).encode(),
    ),  # fmt: skip
    Case(
        "quoted_line_breaks",
        _csv(_with(5, "city", "Flat 2\nOxvorek") + []).encode(),
        values=("Flat 2\nOxvorek",),
    ),
    Case(
        "latin1",
        _csv(_with(4, "first_name", "Joséphixul")).encode("latin-1"),
        reasons={"row.undecodable": 1},
        values=("Joséphixul",),
        errors={"schema new": "not decodable as utf-8"},  # its sample must be read whole
    ),
    Case(
        "latin1_given",
        _csv(_with(4, "first_name", "Joséphixul")).encode("latin-1"),
        options=("--input-encoding", "latin-1"),
        values=("Joséphixul",),
    ),
    Case(
        "duplicate_column",
        _csv(PARTY, header=[*HEADER[:5], "email"]).encode(),
        error="appears 2 times",
        errors={"schema new": None},  # proposes from the first of the two
    ),
    Case("stdin", GOOD.encode(), stdin=True),
    Case("stdin_gzip", gzip.compress(GOOD.encode(), mtime=0), stdin=True),
    Case("stdin_unclosed_quote", _lines(GOOD, _unclosed).encode(), stdin=True,
         reasons={"row.unclosed_quote": 1}),  # fmt: skip
]
CASE_IDS = [case.name for case in CASES]
COMMANDS = ["encode", "profile", "schema new", "schema check"]
runner = CliRunner()


@pytest.fixture
def party(tmp_path: Path) -> Path:
    (tmp_path / "schema.toml").write_text(SCHEMA)
    (tmp_path / "mapping.toml").write_text(MAPPING)
    LinkageSecret(bytes(range(32))).write(tmp_path / "k.secret")
    return tmp_path


def _fragments(case: Case, data: str) -> set[str]:
    """What must never be printed or written: every 4-character piece of a value that
    holds a letter, and every whole value of 7+ characters (dates, numbers); less what
    the tools print whatever the values (column and field names, the file's path)."""
    values = [v for row in PARTY for v in row[1:]] + [row[0] for row in PARTY]
    values += list(case.values)
    found: set[str] = set()
    for value in values:
        if len(value) >= 7:
            found.add(value)
        for i in range(len(value) - 3):
            piece = value[i : i + 4]
            if any(c.isalpha() for c in piece) and piece.strip() == piece:
                found.add(piece)
    vocabulary = " ".join([*HEADER, SCHEMA, MAPPING, data]).casefold()
    return {f for f in found if f.casefold() not in vocabulary}


def _leaks(text: str, fragments: set[str]) -> list[str]:
    folded = text.casefold()
    return sorted(f for f in fragments if f.casefold() in folded)


def _run(command: str, data: str, folder: Path, case: Case) -> tuple[int, str, list[Path]]:
    """Exit status, everything printed, and the files the command wrote."""
    schema, mapping = str(folder / "schema.toml"), str(folder / "mapping.toml")
    out = folder / "out"
    out.mkdir(exist_ok=True)
    args = {
        "encode": ["encode", data, "--schema", schema, "--mapping", mapping,
                   "--secret", str(folder / "k.secret"), "--party", "p", "-o", str(out / "p.hme")],
        "profile": ["profile", data, "--schema", schema, "--mapping", mapping],
        "schema new": ["schema", "new", data, "-o", str(out / "s.toml"),
                       "--mapping-out", str(out / "m.toml")],
        "schema check": ["schema", "check", schema, "--mapping", mapping, "--data", data],
    }[command]  # fmt: skip
    stdin = case.content if case.stdin and isinstance(case.content, bytes) else None
    result = runner.invoke(app, [*args, *case.options], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: fail with it
    return result.exit_code, result.stdout + result.stderr, sorted(out.iterdir())


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_command_handles_the_case(party: Path, case: Case) -> None:
    data = "-" if case.stdin else str(case.write(party))
    fragments = _fragments(case, data)
    assert len(fragments) > 300  # the check has teeth
    for command in COMMANDS if not case.stdin else READERS:
        status, printed, written = _run(command, data, party, case)
        error = case.expected_error(command)
        where = f"{case.name} / {command}"
        assert "Traceback" not in printed, where
        assert not _leaks(printed, fragments), f"{where} printed {_leaks(printed, fragments)}"
        if error is not None:
            assert status == 2, f"{where}: {printed}"
            assert error in printed and "hint: " in printed, f"{where}: {printed}"
            assert written == [], f"{where} wrote {written} and failed"
            continue
        assert status == 0, f"{where}: {printed}"
        for path in written:
            if path.suffix in (".toml", ".csv"):  # schema, mapping, rejects report
                text = path.read_text(encoding="utf-8")
                assert not _leaks(text, fragments), f"{where} wrote {path.name}: {text}"
        if command == "encode":
            _check_accounting(case, printed, party / "out")
        for path in written:
            path.unlink()


def _check_accounting(case: Case, printed: str, out: Path) -> None:
    """Every data row is encoded (one lookup line) or in the rejects report."""
    read, encoded, rejected = map(
        int, re.search(r"read (\d+) rows, encoded (\d+), rejected (\d+)", printed).groups()
    )
    with (out / "p.lookup").open(newline="") as fh:
        lookup = list(csv.reader(fh))[1:]
    with (out / "p.rejects.csv").open(newline="") as fh:
        rejects = list(csv.reader(fh))[1:]
    rejected_rows = {int(row) for row, _, _ in rejects}
    assert read == case.rows and encoded + rejected == read, (case.name, printed)
    assert len(lookup) == encoded and len(rejected_rows) == rejected
    assert len({rid for _, rid in lookup}) == encoded  # one row per record id
    assert rejected_rows.isdisjoint(range(1, read + 1)) is (rejected == 0)
    assert Counter(reason for _, _, reason in rejects) == Counter(case.reasons), rejects


def test_schema_new_on_a_directory_and_a_missing_file(party: Path) -> None:
    for data, words in ((party, "is a directory"), (party / "none.csv", "file not found")):
        result = runner.invoke(app, ["schema", "new", str(data), "-o", str(party / "s.toml")])
        assert result.exit_code == 2 and words in result.output
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        )


def test_a_real_pipe_into_encode(party: Path) -> None:
    """``encode -`` in a real process, fed through a pipe (not CliRunner's stdin)."""
    text = _lines(GOOD, _unclosed)
    args = ["encode", "-", "--schema", "schema.toml", "--mapping", "mapping.toml"]
    args += ["--secret", "k.secret", "--party", "p", "-o", "p.hme"]
    env = {**os.environ, "PYTHONPATH": str(Path(hashmatch.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "hashmatch", *args],
        env=env,
        input=gzip.compress(text.encode()),
        cwd=party,
        capture_output=True,
        check=False,
        timeout=120,
    )
    printed = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, printed
    assert "read 40 rows, encoded 39, rejected 1" in printed
    assert (party / "p.rejects.csv").read_text().splitlines()[1:] == [
        "21,first_name,row.unclosed_quote"
    ]
