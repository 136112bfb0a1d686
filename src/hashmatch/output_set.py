"""Outputs committed as one unit: a crash leaves the old set or the new set, never a mix.

``encode`` writes an ``.hme`` file, its lookup and its rejects report; ``link`` writes a
results folder. Each set is first written completely into a *stage*: a sibling temporary
folder ``.hashmatch-tmp-<host>-<pid>-<random>/`` (see :mod:`hashmatch._temp_names`) in each
target's folder, so every later step is a rename within one file system. Then:

1. **Journal.** ``PLAN.draft`` (written when the stage is made: every target and its stage)
   is renamed to ``PLAN``. From here on the new set is complete and the commit goes forward.
2. **Aside.** Every existing target is renamed into ``<stage>/old/``.
3. **In.** Every new file (or folder) is renamed from ``<stage>/new/`` onto its target.
4. **Clean.** The stages, with the old files in them, are removed.

Every present target belongs to one set at every moment: old files leave before any new
one arrives, so a crash between steps leaves some targets missing, never an old file
beside a new one. A later run that writes into the same folder finds the stage of a
killed run (its pid is gone, or it is older than two days) and repairs it with
:func:`clean_stale`: with ``PLAN`` it completes steps 2-4 (the new set is whole), without
it it deletes the stage (no target was touched yet). A stage in another folder than the
first target's (``--lookup`` elsewhere) holds ``PRIMARY``, the path of the stage with the
plan, and is repaired through it. Folders are fsync'ed after each step.

Fault injection (tests only): :data:`after_step` is called with each step's name
(``journal``, ``aside:<i>``, ``in:<i>``, ``cleaned``); the environment variable
``HASHMATCH_TEST_KILL_AFTER=<step>`` sends the process SIGKILL right after that step.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from hashmatch._temp_names import is_stale, new_temp_name, parse
from hashmatch.atomic import atomic_write_text, fsync_dir, output_error
from hashmatch.errors import OutputError
from hashmatch.output_policy import check_output_file, check_output_folder

__all__ = ["KILL_ENV", "OutputSet", "after_step", "clean_stale"]

PathLike = str | os.PathLike[str]
KILL_ENV = "HASHMATCH_TEST_KILL_AFTER"
#: Test hook: called with the name of each commit step just after it is done.
after_step: Callable[[str], None] | None = None

_DRAFT, _PLAN, _PRIMARY, _NEW, _OLD = "PLAN.draft", "PLAN", "PRIMARY", "new", "old"
_PLAN_VERSION = 1


class OutputSet:
    """Write ``targets`` (files, or one folder with ``folder=True``) as one unit.

    Use as a context manager: write each target's content to :meth:`path` of it; on a
    normal exit the set is committed, on an exception the stage is removed and the old
    outputs stay as they were. When the set is made, before any work, the temporaries of
    killed runs in the targets' folders are repaired (:func:`clean_stale`) and the output
    policy (:mod:`hashmatch.output_policy`) is checked.

    Example
    -------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with OutputSet([d / "a.txt", d / "b.txt"]) as out:
    ...     _ = out.path(d / "a.txt").write_text("1")
    ...     _ = out.path(d / "b.txt").write_text("2")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt', 'b.txt']
    """

    def __init__(
        self,
        targets: Sequence[PathLike],
        *,
        force: bool = False,
        reads: Iterable[PathLike | None] = (),
        folder: bool = False,
        replaceable: Callable[[str], bool] = lambda name: False,
    ) -> None:
        reads = list(reads)
        for directory in {Path(os.path.abspath(t)).parent for t in targets}:
            clean_stale(directory)  # first: the checks must see a killed run's set repaired
        if folder:
            if len(targets) != 1:
                msg = "a folder output set holds exactly one folder"
                raise ValueError(msg)
            checked = [check_output_folder(targets[0], force=force, reads=reads,
                                           replaceable=replaceable)]
        else:
            checked = [check_output_file(t, force=force, reads=reads) for t in targets]
        self.targets = [Path(os.path.abspath(t)) for t in checked]
        if len(set(self.targets)) != len(self.targets):
            raise OutputError(
                "two outputs of this command are the same file: "
                + ", ".join(str(t) for t in checked),
                hint="give each output its own path",
            )
        self.folder = folder
        self._stages: dict[Path, Path] = {}
        self._done = False

    # -- staging -------------------------------------------------------------------------

    def __enter__(self) -> OutputSet:
        target = self.targets[0]
        try:
            for target in self.targets:
                if self.folder:
                    target.parent.mkdir(parents=True, exist_ok=True)
                if target.parent not in self._stages:
                    stage = target.parent / new_temp_name()
                    stage.mkdir(mode=0o700)
                    (stage / _NEW).mkdir()
                    (stage / _OLD).mkdir()
                    if self._stages:  # a secondary stage points to the one holding the plan
                        (stage / _PRIMARY).write_text(str(self._primary), encoding="utf-8")
                    self._stages[target.parent] = stage
            if self.folder:
                self.path(self.targets[0]).mkdir()
            plan = {
                "version": _PLAN_VERSION,
                "stages": [str(s) for s in self._stages.values()],
                "entries": [[str(t), str(self._stage(t))] for t in self.targets],
            }
            atomic_write_text(self._primary / _DRAFT, json.dumps(plan) + "\n")
        except OSError as exc:  # name the output, not the hidden stage
            self.discard()
            raise output_error(target, exc) from None
        except BaseException:
            self.discard()
            raise
        return self

    def path(self, target: PathLike) -> Path:
        """Where to write ``target``'s new content (inside the stage)."""
        t = Path(os.path.abspath(target))
        return self._stage(t) / _NEW / t.name

    def _stage(self, target: Path) -> Path:
        try:
            return self._stages[target.parent]
        except KeyError:
            msg = f"{target} is not an output of this set (or the set is not open)"
            raise ValueError(msg) from None

    @property
    def _primary(self) -> Path:
        return next(iter(self._stages.values()))

    # -- committing ----------------------------------------------------------------------

    def commit(self) -> None:
        """Swap the staged outputs in (see the module docstring); idempotent."""
        if self._done:
            return
        primary = self._primary
        os.replace(primary / _DRAFT, primary / _PLAN)
        fsync_dir(primary)
        self._done = True
        _step("journal")
        try:
            _roll_forward(_read_plan(primary / _PLAN), announce=True)
        except (Exception, KeyboardInterrupt) as exc:
            with contextlib.suppress(Exception):
                _roll_forward(_read_plan(primary / _PLAN), announce=False)
            if isinstance(exc, KeyboardInterrupt):
                raise
            if not primary.exists():
                return
            raise OutputError(
                f"interrupted while putting the new outputs in place ({exc}); the next run "
                f"that writes into {self.targets[0].parent} completes it",
                hint="check the disk and the folder permissions",
            ) from None

    def discard(self) -> None:
        """Remove the stages; the targets stay as they were (before :meth:`commit` only)."""
        if self._done:
            return
        for stage in reversed(list(self._stages.values())):
            shutil.rmtree(stage, ignore_errors=True)
        self._stages = {}
        self._done = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def clean_stale(directory: PathLike) -> None:
    """Repair or remove the temporaries killed runs left in ``directory`` (best effort).

    A stage with a ``PLAN`` is completed (its new set goes in), any other stale stage or
    temporary file is deleted. Entries of runs still writing are left alone.
    """
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if parse(name) is None:
            continue
        path = Path(directory) / name
        with contextlib.suppress(OSError, ValueError):
            if not is_stale(path):
                continue
            if path.is_dir() and not path.is_symlink():
                _recover(path)
            else:
                path.unlink()


def _recover(stage: Path) -> None:
    pointer = stage / _PRIMARY
    if pointer.is_file():
        primary = Path(pointer.read_text(encoding="utf-8"))
        if parse(primary.name) is not None and primary.is_dir():
            if is_stale(primary):
                _recover(primary)  # completes or removes this stage too
            return
    if (stage / _PLAN).is_file():
        _roll_forward(_read_plan(stage / _PLAN), announce=False)
        return
    stages = [stage]
    if (stage / _DRAFT).is_file():  # the primary stage lists the others
        stages = [Path(s) for s in _read_plan(stage / _DRAFT)["stages"]]
    for s in reversed(stages):
        if parse(s.name) is not None:
            shutil.rmtree(s, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)


def _read_plan(path: Path) -> dict[str, Any]:
    plan = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(plan, dict) or plan.get("version") != _PLAN_VERSION:
        msg = f"{path}: not a plan this hashmatch understands"
        raise ValueError(msg)
    return plan


def _roll_forward(plan: dict[str, Any], *, announce: bool) -> None:
    """Steps 2-4 for ``plan``; safe to repeat after a crash at any point of them."""
    entries = [(Path(t), Path(s)) for t, s in plan["entries"]]
    stages = [Path(s) for s in plan["stages"]]
    for i, (target, stage) in enumerate(entries):
        new, old = stage / _NEW / target.name, stage / _OLD / target.name
        if os.path.lexists(new) and os.path.lexists(target) and not os.path.lexists(old):
            os.rename(target, old)
            fsync_dir(target.parent)
        if announce:
            _step(f"aside:{i}")
    for i, (target, stage) in enumerate(entries):
        new = stage / _NEW / target.name
        if os.path.lexists(new):
            os.replace(new, target)
            fsync_dir(target.parent)
        if announce:
            _step(f"in:{i}")
    for stage in reversed(stages):  # the primary (holding PLAN) goes last
        shutil.rmtree(stage, ignore_errors=True)
    for directory in {t.parent for t, _ in entries}:
        fsync_dir(directory)
    if announce:
        _step("cleaned")


def _step(name: str) -> None:
    if after_step is not None:
        after_step(name)
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
