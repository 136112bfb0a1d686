"""Multi-file outputs committed as one unit: after a kill at any commit step, the files
present all belong to one set, and the next run completes the new set."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import hashmatch.output_set as output_set
from hashmatch import _temp_names
from hashmatch.errors import OutputError
from hashmatch.output_set import OutputSet, clean_stale

NAMES = ("a.hme", "a.lookup", "a.rejects.csv")


class Killed(BaseException):
    """Stands for SIGKILL: no handler of the code under test runs (it is not an Exception)."""


def commit_steps(n: int) -> list[str]:
    return ["journal", *(f"aside:{i}" for i in range(n)), *(f"in:{i}" for i in range(n)),
            "cleaned"]  # fmt: skip


@pytest.fixture
def kill_after(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Set the step to die at (``kill_after.append(step)``); all stages count as stale."""
    chosen: list[str] = []

    def hook(step: str) -> None:
        if chosen and step == chosen[0]:
            raise Killed(step)

    monkeypatch.setattr(output_set, "after_step", hook)
    yield chosen


def make_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The killed run was this process: make its stage look like a dead process's."""
    monkeypatch.setattr(output_set, "is_stale", lambda path: True)


def kill_then_repair(
    targets: list[Path], step: str, kill_after: list[str], monkeypatch: pytest.MonkeyPatch,
    folder: Path,
) -> None:
    """Replace the "old" set by a "new" one, killed after ``step``; check that no old file
    stands beside a new one; then let the next run (in ``folder``) repair the set."""
    write_set(targets, "old")
    kill_after.append(step)
    with pytest.raises(Killed):
        write_set(targets, "new")
    assert len(contents(targets)) <= 1  # some may be missing, never old beside new
    kill_after.clear()
    make_stale(monkeypatch)
    clean_stale(folder)


def write_set(targets: list[Path], label: str, force: bool = True) -> None:
    with OutputSet(targets, force=force) as out:
        for t in targets:
            out.path(t).write_text(f"{label}:{t.name}")


def contents(targets: list[Path]) -> set[str]:
    """Which sets the present targets come from (a missing target contributes nothing)."""
    return {t.read_text().split(":")[0] for t in targets if t.exists()}


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_set_appears_whole(tmp_path: Path) -> None:
    targets = [tmp_path / n for n in NAMES]
    write_set(targets, "new", force=False)
    assert contents(targets) == {"new"} and visible(tmp_path) == sorted(NAMES)


def test_an_error_while_writing_leaves_the_old_set(tmp_path: Path) -> None:
    targets = [tmp_path / n for n in NAMES]
    write_set(targets, "old")
    with pytest.raises(RuntimeError), OutputSet(targets, force=True) as out:
        out.path(targets[0]).write_text("new:partial")
        raise RuntimeError
    assert [t.read_text() for t in targets] == [f"old:{n}" for n in NAMES]
    assert visible(tmp_path) == sorted(NAMES)


def test_existing_outputs_need_force(tmp_path: Path) -> None:
    targets = [tmp_path / n for n in NAMES]
    write_set(targets, "old")
    with pytest.raises(OutputError, match="a.hme exists; refusing to overwrite it"):
        OutputSet(targets)
    with pytest.raises(OutputError, match="same file"):
        OutputSet([targets[0], tmp_path / "." / NAMES[0]], force=True)


@pytest.mark.parametrize("step", commit_steps(len(NAMES)))
def test_a_kill_at_any_commit_step_never_mixes_the_sets(
    tmp_path: Path, kill_after: list[str], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    targets = [tmp_path / n for n in NAMES]
    kill_then_repair(targets, step, kill_after, monkeypatch, tmp_path)
    # the whole new set: the journal was written before any rename
    assert [t.read_text() for t in targets] == [f"new:{n}" for n in NAMES]
    assert visible(tmp_path) == sorted(NAMES)


def test_a_kill_before_the_journal_keeps_the_old_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets = [tmp_path / n for n in NAMES]
    write_set(targets, "old")
    monkeypatch.setattr(output_set.OutputSet, "discard", lambda self: None)  # as if killed
    with pytest.raises(RuntimeError), OutputSet(targets, force=True) as out:
        for t in targets:
            out.path(t).write_text(f"new:{t.name}")
        raise RuntimeError
    assert len(visible(tmp_path)) == len(NAMES) + 1  # the killed run's stage
    make_stale(monkeypatch)
    clean_stale(tmp_path)
    assert contents(targets) == {"old"} and visible(tmp_path) == sorted(NAMES)


@pytest.mark.parametrize("step", commit_steps(2))
def test_a_set_across_two_folders_is_repaired_from_either(
    tmp_path: Path, kill_after: list[str], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """The lookup kept elsewhere (another folder, maybe another disk) joins the same unit."""
    share, private = tmp_path / "share", tmp_path / "private"
    share.mkdir()
    private.mkdir()
    targets = [share / "a.hme", private / "a.lookup"]
    # the next run writes only into the lookup's folder
    kill_then_repair(targets, step, kill_after, monkeypatch, private)
    assert contents(targets) == {"new"}
    assert visible(share) == ["a.hme"] and visible(private) == ["a.lookup"]


@pytest.mark.parametrize("step", commit_steps(1))
def test_a_folder_is_swapped_whole(
    tmp_path: Path, kill_after: list[str], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for name in ("report.json", "crm.csv", "gone.csv"):
        (results / name).write_text(f"old:{name}")
    kill_after.append(step)
    with pytest.raises(Killed), OutputSet([results], force=True, folder=True,
                                          replaceable=lambda name: True) as out:  # fmt: skip
        for name in ("report.json", "crm.csv"):
            (out.path(results) / name).write_text(f"new:{name}")
    if results.exists():  # never a folder mixing the runs
        assert len({p.read_text().split(":")[0] for p in results.iterdir()}) == 1
    kill_after.clear()
    make_stale(monkeypatch)
    clean_stale(tmp_path)
    assert visible(results) == ["crm.csv", "report.json"]  # no file of the old run survives
    assert {p.read_text() for p in results.iterdir()} == {"new:crm.csv", "new:report.json"}
    assert visible(tmp_path) == ["results"]


def test_temporaries_of_running_processes_are_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / _temp_names.new_temp_name("x.csv")
    mine.write_text("being written")
    clean_stale(tmp_path)
    assert mine.exists()  # this process still runs


def test_temporaries_of_dead_or_old_runs_are_removed(tmp_path: Path) -> None:
    host = _temp_names._host_tag()
    dead = tmp_path / f"{_temp_names.PREFIX}{host}-{2**22 + 7}-{'a' * 12}.x.csv"
    dead.write_text("left by a killed run")
    other_host = tmp_path / f"{_temp_names.PREFIX}00000000-{os.getpid()}-{'b' * 12}.y.csv"
    other_host.write_text("old")
    week_ago = time.time() - 7 * 24 * 3600
    os.utime(other_host, (week_ago, week_ago))
    recent_other_host = tmp_path / f"{_temp_names.PREFIX}00000000-1-{'c' * 12}.z.csv"
    recent_other_host.write_text("another machine may still write it")
    unrelated = tmp_path / ".hashmatch-tmp-not-ours"
    unrelated.write_text("x")
    clean_stale(tmp_path)
    assert visible(tmp_path) == sorted([recent_other_host.name, unrelated.name])


def test_a_real_sigkill_between_renames_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    """The environment hook sends a real SIGKILL right after a rename."""
    import signal
    import subprocess
    import sys

    targets = [tmp_path / n for n in NAMES]
    write_set(targets, "old")
    script = (
        "import sys; from pathlib import Path; from hashmatch.output_set import OutputSet\n"
        "targets = [Path(a) for a in sys.argv[1:]]\n"
        "with OutputSet(targets, force=True) as out:\n"
        "    for t in targets: out.path(t).write_text('new:' + t.name)\n"
    )
    env = {**os.environ, output_set.KILL_ENV: "aside:1"}
    done = subprocess.run([sys.executable, "-c", script, *map(str, targets)], env=env,
                          check=False)  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    assert contents(targets) == {"old"} and not targets[0].exists() and not targets[1].exists()
    write_set([tmp_path / "other.csv"], "next")  # any later run writing into the folder
    assert contents(targets) == {"new"}
    assert visible(tmp_path) == sorted([*NAMES, "other.csv"])


def test_a_folder_that_cannot_take_the_stage_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkdir = Path.mkdir

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        if self.name.startswith(_temp_names.PREFIX):
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(OutputError, match=r"cannot write .*a\.hme: Permission denied") as info:
        write_set([tmp_path / "a.hme"], "new", force=False)
    assert "hashmatch-tmp" not in str(info.value) and "permissions" in (info.value.hint or "")
    assert visible(tmp_path) == []
