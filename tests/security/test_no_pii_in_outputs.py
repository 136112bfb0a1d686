"""No input value, and no substring of one of length >= 4, appears in any output.

Covered: the .hme file (unhardened, and hardened with the recommended profile plus
salting), the rejects report, the summary on stdout, stderr, log records, the profile
report, ``inspect`` output, the ``audit`` report (text and ``--json``, with ``--raw``, which
reads the raw values to simulate an attack), a sealed .hme (``seal.seal_file``), error
messages, and everything ``link`` prints and writes (results files, pairs.csv, the PNG),
into a results folder and into a registry (its results folder, ``registry log``, ``stats``
and ``show``), and the lookup service's answers to a party (``lookup`` with and without
``--add``, and the Python client).
The lookup file holds the party's record ids by design and never leaves the party, so it
is the one exception (and it must hold nothing but row tokens and those ids).

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
test flaky: it either always passes or always fails. In text, runs of 32+ hex digits
(digests, row tokens) are masked for the plain search, since any change to a file's
header changes its digest and a name like "baba" then turns up in it by chance.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import hashmatch as hm
import hashmatch.link.threshold as threshold_module
from hashmatch.cli import app
from hashmatch.encfile import EncodingFile
from hashmatch.encode import REJECT_REASONS, LinkageSecret
from hashmatch.encode.sources.rows import ROW_REASONS
from hashmatch.normalize import REASONS
from hashmatch.normalize._base import read_data
from hashmatch.seal.envelope import MAGIC, seal_file
from hashmatch.seal.keyfiles import CoordinatorKey, PartySigningKey
from hashmatch.service.process import serving

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "febrl4"
FEBRL_ROWS = 150
MIN_LEN = 4
#: The hardened schema: the example's, with the recommended profile and a salt (the salt
#: value must only ever reach the output through the keyed hash).
HARDENING = """
[hardening]
permute = true
balance = true
blip = { epsilon = 25.0 }
salt = "date_of_birth:year"
"""

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


_HEX_RUN = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32,}(?![0-9a-f])")


def _leaks(data: bytes, fragments: set[str], *, text: bool) -> list[str]:
    """Fragments found in ``data``. Text is searched case-insensitively and also with
    non-printable bytes removed; binary data case-sensitively, also as UTF-16 (in random
    bytes a printable-only view would match short strings by chance)."""
    if text:
        # Digests and row tokens printed as hex (64 / 32 digits) are keyed or hashed
        # output: a name made of a-f ("baba") may occur in them by chance. Masked for
        # the plain search only; the hex search below still sees them.
        masked = _HEX_RUN.sub(b"#", data.lower())
        haystacks = [masked, bytes(b for b in masked if 32 <= b < 127)]
    else:
        haystacks = [data]
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
    monkeypatch.setattr(secrets, "token_bytes", seeded.randbytes)
    with (ROOT / "tests/data/febrl4/dataset4a.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))[: FEBRL_ROWS + 1]
    with (tmp_path / "party.csv").open(
        "w", newline="", encoding="utf-8", errors="surrogateescape"
    ) as fh:
        writer = csv.writer(fh)
        writer.writerows(rows)
        writer.writerows(MESSY_ROWS)
    (tmp_path / "schema.toml").write_text((EXAMPLE / "schema.toml").read_text())
    (tmp_path / "hardened.toml").write_text((EXAMPLE / "schema.toml").read_text() + HARDENING)
    mapping = (EXAMPLE / "mapping.toml").read_text()
    (tmp_path / "mapping.toml").write_text(mapping)
    LinkageSecret(bytes(range(32))).write(tmp_path / "k.secret")
    return tmp_path


def _decodable_copy(data: str) -> str:
    """``data`` without its lines that are not UTF-8 (the audit reads raw files strictly)."""
    lines = Path(data).read_bytes().splitlines(keepends=True)
    copy = data.replace(".csv", ".utf8.csv")
    Path(copy).write_bytes(b"".join(ln for ln in lines if _is_utf8(ln)))
    return copy


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _run_all(runner: CliRunner, data: str, out: str) -> dict[str, Result]:
    """Every command that reads the party's data or its encoding, and a failing one.

    Also the audit of a plain and a hardened (recommended + salt) encoding, with and
    without the raw file, which it reads to simulate a frequency attack.
    """
    common = ["--schema", "schema.toml", "--mapping", "mapping.toml"]
    enc = ["encode", data, *common, "--secret", "k.secret", "--party", "p"]
    results = {
        "encode": runner.invoke(app, [*enc, "-o", out]),
        "profile": runner.invoke(app, ["profile", data, *common]),
        "profile --json": runner.invoke(app, ["profile", data, *common, "--json"]),
        "inspect": runner.invoke(app, ["inspect", out]),
        "fail-fast": runner.invoke(app, [*enc, "-o", "failed.hme", "--fail-fast"]),
    }
    clean = _decodable_copy(data)
    for label, schema in (("", "schema.toml"), (" hardened", "hardened.toml")):
        hme = out.replace(".hme", ".utf8.hardened.hme" if label else ".utf8.hme")
        enc = ["encode", clean, "--schema", schema, "--mapping", "mapping.toml"]
        results[f"encode utf8{label}"] = runner.invoke(
            app, [*enc, "--secret", "k.secret", "--party", "p", "-o", hme]
        )
        results[f"inspect utf8{label} --json"] = runner.invoke(app, ["inspect", hme, "--json"])
        results[f"audit{label}"] = runner.invoke(app, ["audit", hme])
        raw = ["audit", hme, "--raw", clean, "--schema", schema, "--mapping", "mapping.toml"]
        results[f"audit{label} --raw"] = runner.invoke(app, raw)
        results[f"audit{label} --raw --json"] = runner.invoke(app, [*raw, "--json"])
    return results


def _vocabulary(header: list[str]) -> str:
    """What the tools print whatever the values: the texts of a run on meaningless values,
    digits and hex removed, plus every reason code and placeholder rule name."""
    control = Path("control.csv")
    with control.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        # Repeated rows: the audit then fails repeated patterns and prints its fix texts.
        writer.writerows([[f"qj{i}", *["qj"] * (len(header) - 1)] for i in range(12)])
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
        # audit verdict lines ("FAIL length ..."), whichever verdicts the control run got
        *(
            f"{verdict} {risk}"
            for verdict in ("ok", "warn", "fail")
            for risk in ("bit_frequency", "repeated_patterns", "length", "frequency_attack")
        ),
    ]
    for f in Path().glob("control.*"):
        f.unlink()
    for name, real in (("control.csv", "party.csv"), ("control.utf8.csv", "party.utf8.csv")):
        text = text.replace(name, real)
    text = text.replace("control.", "p.").replace("control", "party")  # the real names
    text = re.sub(r"\s+", " ", text)  # rich wraps lines where the values' run may not
    return re.sub(r"[0-9a-f]{16,}|[0-9]", " ", (text + " ".join(codes)).casefold())


def _inputs(workdir: Path) -> tuple[set[str], list[str]]:
    with (workdir / "party.csv").open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        header, *rows = list(csv.reader(fh))
    # Names the party chose for its columns, the schema's field names and the tools' own
    # vocabulary may appear; they are not values.
    schemas = [(workdir / name).read_text() for name in ("schema.toml", "hardened.toml")]
    allowed = " ".join([*header, *schemas, _vocabulary(header)])
    allowed = allowed.casefold() + " party.csv p.hme p.lookup p.rejects.csv failed.hme"
    allowed += " party.utf8.csv p.utf8.hme p.utf8.hardened.hme"
    values = [v for row in rows for v in row]
    ids = [row[0].strip() for row in rows]
    return _fragments(values, allowed), ids


def _rounded(doc: Any) -> Any:
    if isinstance(doc, float):
        return round(doc, 4)
    if isinstance(doc, dict):
        return {k: _rounded(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_rounded(v) for v in doc]
    return doc


def test_no_input_fragment_in_any_output(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    fragments, ids = _inputs(workdir)
    assert len(fragments) > 1000  # the check has teeth
    caplog.set_level(logging.DEBUG)
    results = _run_all(CliRunner(), "party.csv", "p.hme")
    assert results["encode"].exit_code == 0, results["encode"].output
    assert "rejected 2" in results["encode"].output
    assert results["fail-fast"].exit_code == 2
    assert not (workdir / "failed.hme").exists()
    for name in results.keys() - {"fail-fast"}:
        # the audit exits 3 on a "fail" verdict; its report is printed all the same
        allowed = (0, 3) if name.startswith("audit") else (0,)
        assert results[name].exit_code in allowed, results[name].output
    assert '"with_raw": true' in results["audit --raw --json"].stdout

    texts = {f"{name} stdout": r.stdout for name, r in results.items()}
    texts |= {f"{name} stderr": r.stderr for name, r in results.items()}
    texts |= {"logs": caplog.text, "rejects": (workdir / "p.rejects.csv").read_text()}
    for name in [n for n in texts if n.startswith("audit") and n.endswith("--json stdout")]:
        # Float rates like 0.30000000000000004 hold digit runs that are no value.
        texts[name] = json.dumps(_rounded(json.loads(texts[name])))
    numeric = {f for f in fragments if len(f) <= 6 and not any(c.isalpha() for c in f)}
    for name, text in texts.items():
        checked = fragments if name == "rejects" else fragments - numeric
        leaks = _leaks(text.encode("utf-8", "surrogateescape"), checked, text=True)
        assert not leaks, f"{name} contains input fragments: {leaks}"
    for hme in ("p.hme", "p.utf8.hardened.hme"):
        raw = (workdir / hme).read_bytes()
        end = 24 + int.from_bytes(raw[16:24], "little")  # JSON header: hex digests, offsets
        leaks = _leaks(raw[:end], fragments - numeric, text=True)
        leaks += _leaks(raw[end:], fragments, text=False)
        assert not leaks, f"{hme} contains input fragments: {leaks}"


def _link_texts(runner: CliRunner, data: str, prefix: str) -> dict[str, str]:
    """Encode ``data`` as two parties, link them; what link printed and wrote (PNG aside)."""
    common = ["--schema", "schema.toml", "--mapping", "mapping.toml", "--secret", "k.secret"]
    for party in ("p", "q"):
        out = f"{prefix}{party}.hme"
        result = runner.invoke(app, ["encode", data, *common, "--party", party, "-o", out])
        assert result.exit_code == 0, result.output
    hme = [f"{prefix}p.hme", f"{prefix}q.hme"]
    args = ["link", *hme, "-o", f"{prefix}results", "--pairs", "--share-party-names"]
    linked = runner.invoke(app, args)
    assert linked.exit_code == 0, linked.output
    texts = {"link stdout": linked.stdout, "link stderr": linked.stderr}
    texts.update(_folder_texts(Path(f"{prefix}results"), ""))
    # the same files into a registry, and what its commands print
    registry = f"{prefix}registry.db"
    run = runner.invoke(app, ["link", *hme, "--share-party-names", "--registry", registry,
                              "-o", f"{prefix}reg-results"])
    assert run.exit_code == 0, run.output
    texts["registry link stdout"] = run.stdout
    texts.update(_folder_texts(Path(f"{prefix}reg-results"), "registry "))
    for command in (["log"], ["stats"], ["log", "--json"]):
        shown = runner.invoke(app, ["registry", command[0], registry, *command[1:]])
        assert shown.exit_code == 0, shown.output
        texts[f"registry {' '.join(command)}"] = shown.stdout
    with open(f"{prefix}reg-results/entities.csv", newline="") as fh:
        entity = next(csv.DictReader(fh))["entity_id"]
    shown = runner.invoke(app, ["registry", "show", registry, entity])
    assert shown.exit_code == 0, shown.output
    texts["registry show"] = shown.stdout
    texts.update(_service_texts(runner, data, registry, f"{prefix}p.hme", prefix))
    # entity ids of a registry are keyed by its own random id key: blanked like digests
    return {name: re.sub(r"\bE[0-9a-f]{16}\b", " ", text) for name, text in texts.items()}


def _service_texts(runner: CliRunner, data: str, registry: str, hme: str,
                   prefix: str) -> dict[str, str]:
    """The lookup service over ``registry``, asked by party p: what ``lookup`` prints and
    writes (its records looked up, then added with ``--add``), and the service's answers
    to the Python client, as the party receives them."""
    issued = runner.invoke(app, ["registry", "token", "p", "--registry", registry])
    assert issued.exit_code == 0, issued.output
    Path(f"{prefix}p.token").write_text(issued.stdout.strip() + "\n")
    texts = {}
    with serving(registry) as url:
        ask = ["lookup", data, "--server", url, "--token-file", f"{prefix}p.token",
               "--schema", "schema.toml", "--mapping", "mapping.toml", "--secret", "k.secret",
               "--party", "p"]
        for label, more in (("lookup", []), ("lookup --add", ["--add"])):
            out = f"{prefix}{label.replace(' ', '')}.csv"
            asked = runner.invoke(app, [*ask, *more, "-o", out])
            assert asked.exit_code == 0, asked.output
            texts[f"{label} stdout"] = asked.stdout
            texts[f"{label} stderr"] = asked.stderr
            # The party's own answer file holds its record ids by design (like its lookup,
            # it never leaves the party): nothing else of the input may be in it.
            with open(out, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            assert rows and set(rows[0]) == {"record_id", "entity_id", "score", "status"}
            texts[f"{label} output"] = json.dumps(
                [{k: v for k, v in row.items() if k != "record_id"} for row in rows])
        with EncodingFile.open(hme) as batch, hm.Client(url, issued.stdout) as client:
            answers = client.match(batch)
        assert answers and all(a["entity_id"] for a in answers)
        texts["service answers"] = json.dumps(_rounded(answers))
    return texts


def _folder_texts(folder: Path, label: str) -> dict[str, str]:
    """The text files of a results folder (PNG aside), JSON with its floats rounded."""
    texts = {}
    for f in sorted(folder.iterdir()):
        if f.suffix == ".json":  # float rates like 0.30000000000000004 hold no value
            texts[label + f.name] = json.dumps(_rounded(json.loads(f.read_text("utf-8"))))
        elif f.suffix != ".png":
            texts[label + f.name] = f.read_text("utf-8")
    return texts


def test_coordinator_outputs_hold_no_input_fragment(workdir: Path) -> None:
    """What link writes (every results file, pairs.csv and the PNG included) and prints,
    into a results folder and into a registry (its results, journal, stats and an entity
    shown), is made from encodings only; check it anyway, with two parties holding the
    same people."""
    runner = CliRunner()
    with (workdir / "party.csv").open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        header, *rows = list(csv.reader(fh))
    # Link's own words (explanations, table headings), from a run on meaningless values.
    with open("control.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(
            [header, *([f"qj{i}", *["qj"] * (len(header) - 1)] for i in range(12))]
        )
    vocabulary = " ".join(_link_texts(runner, "control.csv", "control-").values())
    # The threshold explanation has several templates (valley, fallbacks) and the control
    # run shows one of them: take the others from the module that words them.
    vocabulary += Path(threshold_module.__file__).read_text()
    vocabulary = re.sub(r"[0-9a-f]{16,}|[0-9]", " ", re.sub(r"\s+", " ", vocabulary).casefold())
    fragments, _ = _inputs(workdir)
    fragments = _fragments([v for row in rows for v in row], vocabulary) & fragments
    assert len(fragments) > 1000  # the check has teeth
    texts = _link_texts(runner, _decodable_copy("party.csv"), "")
    assert {"entities.csv", "p.csv", "q.csv", "pairs.csv", "report.json"} <= set(texts)
    assert {"registry p.changes.csv", "registry report.json", "registry log",
            "registry show", "lookup output", "lookup --add output",
            "service answers"} <= set(texts)
    numeric = {f for f in fragments if len(f) <= 6 and not any(c.isalpha() for c in f)}
    for name, text in texts.items():
        # Row tokens and digests are random or one-way hex: an all-hex fragment ("defe")
        # would turn up in them by chance, so they are blanked before the search.
        text = re.sub(r"[0-9a-f]{32,}", " ", text)
        leaks = _leaks(text.encode("utf-8", "surrogateescape"), fragments - numeric, text=True)
        assert not leaks, f"{name} contains input fragments: {leaks}"
    for png in (workdir / "results").glob("*.png"):
        assert not _leaks(png.read_bytes(), fragments, text=False), png.name


def test_sealed_file_holds_no_input_fragment(workdir: Path) -> None:
    """The sealed file's clear header names only the party, keys and sizes; its body is
    the encrypted .hme, so not even the .hme's own (value-free) header shows through."""
    enc = ["encode", "party.csv", "--schema", "hardened.toml", "--mapping", "mapping.toml"]
    result = CliRunner().invoke(app, [*enc, "--secret", "k.secret", "--party", "p", "-o", "p.hme"])
    assert result.exit_code == 0, result.output
    recipient, signer = CoordinatorKey.generate().public, PartySigningKey.generate("p")
    seal_file("p.hme", "p.sealed", party="p", recipient=recipient, signer=signer)
    sealed = (workdir / "p.sealed").read_bytes()
    assert sealed.startswith(MAGIC)
    end = len(MAGIC) + 4 + int.from_bytes(sealed[len(MAGIC) : len(MAGIC) + 4], "little")
    header = json.loads(sealed[len(MAGIC) + 4 : end])  # random key bytes: checked by shape
    assert header["party"] == "p"
    assert set(header) - {"party"} == {
        "format_version", "chunk_size", "plaintext_bytes", "created", "ephemeral_x25519",
        "recipient_key_id", "signer_key_id",
    }  # fmt: skip
    assert all(re.fullmatch(r"[0-9a-f]+", header[k]) for k in header if k.endswith("_key_id"))
    # The ciphertext is fresh random bytes on every run (ephemeral key), where 4-byte
    # fragments would turn up by chance: it is searched for 8-character runs of the
    # values instead, and for 16-byte windows of the plaintext .hme (there must be none).
    with (workdir / "party.csv").open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        values = [v.strip() for row in list(csv.reader(fh))[1:] for v in row]
    runs = {v[i : i + 8] for v in values for i in range(len(v) - 7)}
    assert len(runs) > 1000
    assert not _leaks(sealed[end:], runs, text=False)
    plain = (workdir / "p.hme").read_bytes()
    body = sealed[end:]  # the clear seal header shares JSON keys (format_version) with it
    assert not any(plain[i : i + 16] in body for i in range(0, len(plain) - 16, 61))


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
