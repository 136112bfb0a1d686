"""Issue 11, output side: no silent overwrite, no mixed sets, results tied to their run,
one-line errors without tracebacks or values, spreadsheet-safe cells.

Every refusal is checked for: exit status 2, an ``error:`` line (and maybe a ``hint:``
line) and nothing else on stderr, no traceback, no input value, and untouched files.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import hashmatch.output_set as output_set
from hashmatch.cli import app
from hashmatch.encfile import EncodingFile, EncodingWriter
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey
from hashmatch.link import link_files

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_departments"
PARTIES = ("crm", "callcentre")
MIN_LEN = 4


def run(*args: object) -> Result:
    """``hashmatch ARGS`` in-process (its exit status is checked by ok() or refused())."""
    return CliRunner().invoke(app, [str(a) for a in args])


def ok(*args: object) -> Result:
    """``hashmatch ARGS``, which must succeed."""
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def values() -> set[str]:
    """Every cell of the example's data files (the values no message may show)."""
    found: set[str] = set()
    for party in PARTIES:
        with (EXAMPLE / f"{party}.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        found |= {c.strip() for row in rows[1:] for c in row if len(c.strip()) >= MIN_LEN}
    return found


VALUES = values()


def refused(result: Result, *phrases: str) -> str:
    """The refusal's stderr, after checking its form (see the module docstring)."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert all(line.startswith(("error: ", "hint: ", "Usage:", "Try ", "╭", "│", "╰"))
               for line in lines), result.stderr  # fmt: skip
    assert "Traceback" not in result.output
    leaked = sorted(v for v in VALUES if v in result.output)
    assert leaked == [], f"input values in a message: {leaked}"
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    return result.stderr


def encode_args(root: Path, party: str, out: Path, *extra: object) -> list[object]:
    return [
        "encode", root / f"{party}.csv", "--schema", root / "schema.toml",
        "--mapping", root / f"{party}.mapping.toml", "--secret", root / "linkage.secret",
        "--party", party, "-o", out, *extra,
    ]  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def row_tokens(hme: Path) -> set[str]:
    with EncodingFile.open(hme) as f:
        return {bytes(t).hex() for t in np.asarray(f.row_tokens)}


def lookup_tokens(lookup: Path) -> set[str]:
    with lookup.open(newline="") as fh:
        return {r["row_token"] for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-departments example, encoded (crm, callcentre) and linked into results/."""
    root = tmp_path_factory.mktemp("pristine") / "world"
    shutil.copytree(EXAMPLE, root)
    LinkageSecret(bytes([3]) * 32).write(root / "linkage.secret")
    for party in PARTIES:
        ok(*encode_args(root, party, root / f"{party}.hme"))
    ok("link", *(root / f"{p}.hme" for p in PARTIES), "-o", root / "results")
    return root


@pytest.fixture
def world(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of ``pristine`` for one test (copying is much faster than encoding)."""
    root = tmp_path / "world"
    shutil.copytree(pristine, root)
    return root


# -- 2. silent destructive overwrites -------------------------------------------------------


def test_encode_refuses_to_replace_an_earlier_run_without_force(world: Path) -> None:
    before = snapshot(world)
    refused(run(*encode_args(world, "crm", world / "crm.hme")),
            "crm.hme exists; refusing to overwrite it", "--force")  # fmt: skip
    assert snapshot(world) == before
    ok(*encode_args(world, "crm", world / "crm.hme", "--force"))
    assert row_tokens(world / "crm.hme") == lookup_tokens(world / "crm.lookup")
    # the row key is an input of the run: reused, never replaced, so the tokens stay
    assert (world / "crm.rowkey").read_bytes() == before["crm.rowkey"]
    assert (world / "crm.lookup").read_bytes() == before["crm.lookup"]


@pytest.mark.parametrize(
    ("option", "victim"),
    [("--lookup", "linkage.secret"), ("--rejects", "schema.toml"),
     ("--lookup", "crm.mapping.toml"), ("--rejects", "crm.csv"), ("--lookup", "crm.rowkey")],
)  # fmt: skip
def test_encode_never_writes_over_its_own_inputs(world: Path, option: str, victim: str) -> None:
    before = (world / victim).read_bytes()
    args = encode_args(world, "crm", world / "new.hme", option, world / victim, "--force")
    result = run(*args, "--row-key", world / "crm.rowkey")
    refused(result, "is also an input of this command")
    assert (world / victim).read_bytes() == before
    assert not (world / "new.hme").exists()


def test_reveal_refuses_to_replace_a_file_and_never_its_inputs(world: Path) -> None:
    results, lookup = world / "results" / "crm.csv", world / "crm.lookup"
    raw = (world / "crm.csv").read_bytes()
    refused(run("reveal", results, "--lookup", lookup, "-o", world / "crm.csv"),
            "crm.csv exists; refusing to overwrite it")  # fmt: skip
    assert (world / "crm.csv").read_bytes() == raw
    for victim in (results, lookup):
        before = victim.read_bytes()
        refused(run("reveal", results, "--lookup", lookup, "-o", victim, "--force"),
                "also an input")  # fmt: skip
        assert victim.read_bytes() == before


@pytest.mark.parametrize("command", ["encode", "reveal", "keygen"])
def test_a_device_or_folder_is_never_replaced(world: Path, command: str) -> None:
    for target, phrase in ((Path("/dev/null"), "device"), (world / "results", "folder")):
        if command == "encode":
            args = encode_args(world, "crm", target, "--force")
        elif command == "reveal":
            args = ["reveal", world / "results" / "crm.csv", "--lookup", world / "crm.lookup",
                    "-o", target, "--force"]  # fmt: skip
        else:
            args = ["keygen", "-o", target, "--force"]
        refused(run(*args), phrase)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert (world / "results" / "report.json").is_file()


# -- 1. results folders: cleaned, atomic, tied to their run ---------------------------------


def report(folder: Path) -> dict[str, object]:
    return json.loads((folder / "report.json").read_text())


def test_link_into_an_earlier_folder_replaces_it_whole_with_force(world: Path) -> None:
    results = world / "results"
    first = report(results)["run_id"]
    (results / "partner.csv").write_text("row_token,entity_id,run_id\n")  # an earlier party
    before = snapshot(results)
    hme = [world / f"{p}.hme" for p in PARTIES]
    refused(run("link", *hme, "-o", results), "is not empty", "--force")
    assert snapshot(results) == before
    ok("link", *hme, "-o", results, "--force")
    assert not (results / "partner.csv").exists()  # nothing of the earlier run survives
    second = report(results)["run_id"]
    assert isinstance(second, str) and len(second) == 16 and second != first
    for name in ("crm.csv", "callcentre.csv", "entities.csv"):
        with (results / name).open(newline="") as fh:
            assert {r["run_id"] for r in csv.DictReader(fh)} == {second}
    assert sorted(p.name for p in world.iterdir() if p.name.startswith(".hashmatch-tmp-")) == []


def test_force_never_deletes_what_link_did_not_write(world: Path) -> None:
    hme = [world / f"{p}.hme" for p in PARTIES]
    (world / "results" / "notes.txt").write_text("mine")
    refused(run("link", *hme, "-o", world / "results", "--force"), "does not write")
    assert (world / "results" / "notes.txt").read_text() == "mine"
    refused(run("link", *hme, "-o", world, "--force"), "which this command reads")
    assert all(p.exists() for p in hme)


def test_link_to_standard_output_is_refused(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(world)
    refused(run("link", *(f"{p}.hme" for p in PARTIES), "-o", "-"), "standard output")
    assert not (world / "-").exists()


def test_reveal_refuses_a_party_file_of_another_run(world: Path, tmp_path: Path) -> None:
    old = tmp_path / "old-results"
    shutil.copytree(world / "results", old)
    ok("link", *(world / f"{p}.hme" for p in PARTIES), "-o", world / "results", "--force")
    shutil.copy(old / "crm.csv", world / "results" / "crm.csv")  # a stale file copied in
    refused(
        run("reveal", world / "results" / "crm.csv", "--lookup", world / "crm.lookup",
            "-o", tmp_path / "out.csv"),  # fmt: skip
        "not a file of the link run described by",
    )
    assert not (tmp_path / "out.csv").exists()
    # the same file on its own (as a party receives it) is read, and names its run
    alone = tmp_path / "inbox"
    alone.mkdir()
    shutil.copy(old / "crm.csv", alone / "crm.csv")
    result = ok("reveal", alone / "crm.csv", "--lookup", world / "crm.lookup", "-o",
                tmp_path / "out.csv")  # fmt: skip
    assert f"link run {report(old)['run_id']}" in result.output


def test_reveal_refuses_a_file_mixing_runs(world: Path, tmp_path: Path) -> None:
    party = world / "results" / "crm.csv"
    lines = party.read_text().splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",0123456789abcdef"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "crm.csv").write_text("\n".join(lines) + "\n")
    refused(run("reveal", inbox / "crm.csv", "--lookup", world / "crm.lookup", "-o",
                tmp_path / "o.csv"), "mixes rows of 2 link runs")  # fmt: skip


def test_reveal_reads_a_file_written_before_run_ids(world: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with (world / "results" / "crm.csv").open(newline="") as fh:
        rows = [r[:-1] for r in csv.reader(fh)]  # drop run_id: the old layout
    with (inbox / "crm.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    result = ok("reveal", inbox / "crm.csv", "--lookup", world / "crm.lookup", "-o",
                tmp_path / "o.csv")  # fmt: skip
    assert "without a run id" in result.output
    assert (tmp_path / "o.csv").read_text().splitlines()[0] == "record_id,entity_id"


def test_reveal_writes_to_standard_output(world: Path) -> None:
    result = ok("reveal", world / "results" / "crm.csv", "--lookup", world / "crm.lookup",
                "-o", "-")  # fmt: skip
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == ["record_id", "entity_id"] and len(rows) == 30
    assert "wrote 29 records" in result.stderr and not (world / "-").exists()


def test_reveal_never_maps_one_record_id_to_two_entities(tmp_path: Path) -> None:
    tokens = [f"{k:032x}" for k in range(3)]
    (tmp_path / "p.csv").write_text(
        "row_token,entity_id\n" + "".join(f"{t},E{k}\n" for k, t in enumerate(tokens))
    )
    lookup = "row_token,record_id\n" + "".join(f"{t},dup-7\n" for t in tokens[:2])
    (tmp_path / "p.lookup").write_text(lookup + f"{tokens[2]},other\n")
    refused(run("reveal", tmp_path / "p.csv", "--lookup", tmp_path / "p.lookup", "-o",
                tmp_path / "o.csv"), "1 record id(s)", "two different entity ids")  # fmt: skip
    assert not (tmp_path / "o.csv").exists()


def test_evaluate_refuses_a_lookup_or_entities_of_another_run(world: Path, tmp_path: Path) -> None:
    truth = world / "truth.csv"
    lookups = [a for p in PARTIES for a in ("--lookup", world / f"{p}.lookup")]
    ok("evaluate", world / "results", "--truth", truth, *lookups)
    ok(*encode_args(world, "crm", tmp_path / "again.hme"))  # new row tokens
    refused(run("evaluate", world / "results", "--truth", truth, "--lookup",
                tmp_path / "again.lookup"), "does not belong to")  # fmt: skip
    other = tmp_path / "other"
    ok("link", *(world / f"{p}.hme" for p in PARTIES), "-o", other)
    shutil.copy(other / "entities.csv", world / "results" / "entities.csv")
    refused(run("evaluate", world / "results", "--truth", truth, *lookups),
            "not the entities file of the link run")  # fmt: skip


# -- 6. crash windows ------------------------------------------------------------------------


class Killed(BaseException):
    """Stands for SIGKILL (the code under test handles Exception, never this)."""


STEPS = ["journal", "aside:0", "aside:1", "aside:2", "in:0", "in:1", "in:2", "cleaned"]


def stale_is_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output_set, "is_stale", lambda path: True)


@pytest.mark.parametrize("step", STEPS)
def test_encode_killed_at_any_commit_step_leaves_one_set(
    world: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    outputs = [world / n for n in ("crm.hme", "crm.lookup", "crm.rejects.csv")]
    old = {p.name: p.read_bytes() for p in outputs}
    old_tokens = row_tokens(outputs[0])

    def kill(at: str) -> None:
        if at == step:
            raise Killed(at)

    monkeypatch.setattr(output_set, "after_step", kill)
    with pytest.raises(Killed):  # a new row key: the new set's row tokens differ from the old
        encode_file(world / "crm.csv", schema=world / "schema.toml",
                    secret=world / "linkage.secret", party="crm", row_key=RowKey.generate(),
                    mapping=world / "crm.mapping.toml", out=outputs[0], force=True)  # fmt: skip
    present = [p for p in outputs if p.exists()]
    olds = [p for p in present if p.read_bytes() == old[p.name]]
    if outputs[0].exists() and outputs[1].exists():
        assert row_tokens(outputs[0]) == lookup_tokens(outputs[1])  # never a mixed pair
    # rejects files of both runs are equal bytes (same rows), so judge by the pair above
    assert len(olds) in (0, len(present)) or outputs[2] in olds
    monkeypatch.setattr(output_set, "after_step", None)
    stale_is_dead(monkeypatch)
    output_set.clean_stale(world)  # what the next run in the folder does first
    assert all(p.exists() for p in outputs)
    assert row_tokens(outputs[0]) == lookup_tokens(outputs[1])
    assert row_tokens(outputs[0]).isdisjoint(old_tokens)  # the journal was written: new set
    assert not [p for p in world.iterdir() if p.name.startswith(".hashmatch-tmp-")]


@pytest.mark.parametrize("step", ["journal", "aside:0", "in:0", "cleaned"])
def test_link_killed_at_any_commit_step_leaves_one_folder(
    world: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    results = world / "results"
    old_run = report(results)["run_id"]

    def kill(at: str) -> None:
        if at == step:
            raise Killed(at)

    monkeypatch.setattr(output_set, "after_step", kill)
    with pytest.raises(Killed):
        link_files([world / f"{p}.hme" for p in PARTIES], results, force=True)
    if results.exists():  # the old folder or the new one, whole
        run_id = report(results)["run_id"]
        for name in ("crm.csv", "callcentre.csv", "entities.csv"):
            with (results / name).open(newline="") as fh:
                assert {r["run_id"] for r in csv.DictReader(fh)} == {run_id}
    monkeypatch.setattr(output_set, "after_step", None)
    stale_is_dead(monkeypatch)
    output_set.clean_stale(world)
    assert report(results)["run_id"] != old_run
    assert sorted(p.name for p in world.iterdir() if p.name.startswith(".hashmatch-tmp-")) == []


def test_a_real_sigkill_of_encode_is_repaired_by_the_next_run(world: Path) -> None:
    """SIGKILL right after the new .hme went in (old lookup and rejects set aside)."""
    env = {**os.environ, output_set.KILL_ENV: "in:0"}
    old_tokens = row_tokens(world / "crm.hme")
    args = [str(a) for a in encode_args(world, "crm", world / "crm.hme", "--force",
                                        "--row-key", world / "new.rowkey")]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "hashmatch", *args], env=env,
                          capture_output=True, check=False)  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    assert (world / "crm.hme").exists() and not (world / "crm.lookup").exists()
    # the next run that writes into the folder completes the new set first
    ok("reveal", world / "results" / "callcentre.csv", "--lookup", world / "callcentre.lookup",
       "-o", world / "cc.csv")  # fmt: skip
    ok(*encode_args(world, "crm", world / "crm2.hme"))
    assert row_tokens(world / "crm.hme") == lookup_tokens(world / "crm.lookup")
    assert row_tokens(world / "crm.hme").isdisjoint(old_tokens)  # the new set, whole
    assert (world / "crm.rejects.csv").exists() and (world / "new.rowkey").exists()


def test_a_killed_sealed_encode_leaves_nothing_unsealed(world: Path, tmp_path: Path) -> None:
    """The plain encodings live in memory: a SIGKILL leaves nothing readable in TMPDIR."""
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    ok("keygen", "--coordinator", "-o", world / "coordinator")
    env = {**os.environ, output_set.KILL_ENV: "journal", "TMPDIR": str(tmpdir)}
    out = world / "crm.hme.sealed"
    args = [str(a) for a in encode_args(world, "crm", out, "--seal-for",
                                        world / "coordinator.pub", "--force")]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "hashmatch", *args], env=env,
                          capture_output=True, check=False)  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    assert list(tmpdir.iterdir()) == []
    stages = [p for p in world.iterdir() if p.name.startswith(".hashmatch-tmp-")]
    assert len(stages) == 1  # the killed run's stage: sealed file, lookup, rejects only
    staged = sorted(p.name for p in (stages[0] / "new").iterdir())
    assert staged == ["crm.hme.sealed", "crm.lookup", "crm.rejects.csv"]


# -- 5. no traceback for OS errors or invalid arguments --------------------------------------


@pytest.mark.parametrize(
    ("code", "hint", "command"),
    [
        (errno.EACCES, "permissions", "encode"),
        (errno.EROFS, "read-only", "reveal"),
        (errno.ENOSPC, "free some space", "keygen"),
        (errno.EROFS, "read-only", "link"),
        (errno.ENOSPC, "free some space", "encode"),
    ],
)
def test_os_errors_are_one_line_with_a_hint(
    world: Path, monkeypatch: pytest.MonkeyPatch, code: int, hint: str, command: str
) -> None:
    import hashmatch.atomic as atomic

    def fail(dest: Path, permissions: int) -> tuple[Path, int]:
        raise OSError(code, os.strerror(code), str(dest))

    monkeypatch.setattr(atomic, "_create_temp", fail)
    args: list[object] = {
        "encode": encode_args(world, "crm", world / "new.hme"),
        "reveal": ["reveal", world / "results" / "crm.csv", "--lookup", world / "crm.lookup",
                   "-o", world / "new.csv"],
        "keygen": ["keygen", "-o", world / "new.secret"],
        "link": ["link", *(world / f"{p}.hme" for p in PARTIES), "-o", world / "new"],
    }[command]  # fmt: skip
    err = refused(run(*args), os.strerror(code), hint)
    assert str(world) in err  # the path is named


def test_missing_folders_and_folders_as_files_get_one_line(world: Path) -> None:
    lookup = ["--lookup", world / "crm.lookup"]
    refused(run("reveal", world / "results" / "crm.csv", *lookup, "-o", world / "no" / "x.csv"),
            "does not exist", "create the folder")  # fmt: skip
    refused(run("keygen", "--coordinator", "-o", world / "no" / "coordinator"), "does not exist")
    refused(run("keygen", "-o", world / "results"), "folder")
    refused(run("schema", "new", world / "results", "-o", world / "s.toml"), "folder")
    refused(run("reveal", world / "results", *lookup, "-o", world / "x.csv"), "folder")


@pytest.mark.parametrize(
    "name", ["", "a\nb", "crm\u202e", "=HYPERLINK(\"http://x\")", "a/b"]
)
def test_bad_party_names_are_refused_everywhere(world: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    refused(run(*encode_args(world, "crm", out / "x.hme")[:-4], "--party", name, "-o",
                out / "x.hme"), "party name")  # fmt: skip
    refused(run("keygen", "--party", name, "-o", out / "k"), "party name")
    if name:  # synth knows its own party names only
        refused(run("synth", "-o", out / "s", "--parties", f"crm,{name}"))
    assert list(out.iterdir()) == []


def test_link_refuses_a_bad_party_name_in_a_header(world: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.hme"
    write_hme(world / "callcentre.hme", bad, party="=HYPERLINK(1)")
    err = refused(run("link", world / "crm.hme", bad, "-o", tmp_path / "r"), "party name")
    assert "HYPERLINK" not in err and not (tmp_path / "r").exists()


# -- 8. false reassurance ---------------------------------------------------------------------


def write_hme(source: Path, path: Path, *, party: str = "odd", commitment: str | None = None,
              duplicate: bool = False) -> None:  # fmt: skip
    """A small .hme with ``source``'s layout, so only the property under test differs."""
    with EncodingFile.open(source) as f:
        h = f.header
        rows = min(4, h.rows)
        tokens = np.array(f.row_tokens[:rows])
        if duplicate:
            tokens[1] = tokens[0]
        with EncodingWriter(
            path, party=party, schema_fingerprint=h.schema_fingerprint, clk_bits=h.clk_bits,
            segments=h.segments, token_names=h.token_names, field_names=h.field_names,
            secret_commitment=h.secret_commitment if commitment is None else commitment,
            encoder_version=h.encoder_version, extra=h.to_dict()["extra"],
        ) as w:  # fmt: skip
            w.append(np.array(f.clks[:rows]), {n: np.array(f.token(n)[:rows])
                     for n in h.token_names}, np.array(f.present[:rows]), tokens)  # fmt: skip


def test_link_refuses_an_empty_secret_commitment(world: Path, tmp_path: Path) -> None:
    write_hme(world / "callcentre.hme", tmp_path / "odd.hme", commitment="")
    refused(run("link", world / "crm.hme", tmp_path / "odd.hme", "-o", tmp_path / "r"),
            "odd.hme carries no secret commitment")  # fmt: skip


def test_link_refuses_repeated_row_tokens(world: Path, tmp_path: Path) -> None:
    write_hme(world / "callcentre.hme", tmp_path / "odd.hme", duplicate=True)
    refused(run("link", world / "crm.hme", tmp_path / "odd.hme", "-o", tmp_path / "r"),
            "odd.hme: 1 row token(s) occur more than once")  # fmt: skip
    assert not (tmp_path / "r").exists()


def test_audit_raw_refuses_a_lookup_of_another_run(world: Path, tmp_path: Path) -> None:
    raw = ["--raw", world / "crm.csv", "--schema", world / "schema.toml",
           "--mapping", world / "crm.mapping.toml"]  # fmt: skip
    audited = run("audit", world / "crm.hme", *raw)
    assert audited.exit_code in (0, 3) and "verdict:" in audited.output  # 3: a fail verdict
    ok(*encode_args(world, "crm", tmp_path / "again.hme"))
    refused(run("audit", world / "crm.hme", *raw, "--lookup", tmp_path / "again.lookup"),
            "does not belong to", "crm.hme")  # fmt: skip


def test_a_public_key_given_as_key_is_named(world: Path) -> None:
    ok("keygen", "--coordinator", "-o", world / "coordinator")
    err = refused(run("link", world / "crm.hme", world / "callcentre.hme", "-o",
                      world / "r", "--key", world / "coordinator.pub", "--allow-unsigned"),
                  "coordinator.pub is the coordinator's public key")  # fmt: skip
    assert "chmod" not in err


def test_record_ids_and_column_names_reach_csv_files_spreadsheet_safe(tmp_path: Path) -> None:
    data = tmp_path / "p.csv"
    data.write_text('id,=cmd|calc,last_name\n=HYPERLINK("x"),a,Smith\n@SUM(1),b,Jones\n'
                    "-5,c,Brown\n+c,d\n")  # fmt: skip
    schema = tmp_path / "schema.toml"
    schema.write_text('version = 1\n[clk]\nbits = 128\n[[fields]]\nname = "last_name"\n'
                      'type = "name"\nbloom = true\n')  # fmt: skip
    LinkageSecret(bytes(32)).write(tmp_path / "k")
    ok("encode", data, "--schema", schema, "--secret", tmp_path / "k", "--party", "p",
       "-o", tmp_path / "p.hme", "--id-column", "id")  # fmt: skip
    cells = [r[1] for r in csv.reader((tmp_path / "p.lookup").open(newline=""))][1:]
    assert cells == ["'=HYPERLINK(\"x\")", "'@SUM(1)", "-5"]
    ok("link", tmp_path / "p.hme", "--dedup", "-o", tmp_path / "r")
    ok("reveal", tmp_path / "r" / "p.csv", "--lookup", tmp_path / "p.lookup", "-o",
       tmp_path / "out.csv")  # fmt: skip
    ids = [r[0] for r in csv.reader((tmp_path / "out.csv").open(newline=""))][1:]
    assert sorted(ids) == sorted(["'=HYPERLINK(\"x\")", "'@SUM(1)", "-5"])
    rejects = (tmp_path / "p.rejects.csv").read_text()
    assert "=cmd" not in rejects.replace("'=cmd", "")
