"""Progress hooks: the library reports progress through a callback and never prints.

A long-running function takes ``progress: ProgressHook | None``; it calls
``hook(done, total)`` after each chunk (``total`` may be None when unknown). The CLI
passes :func:`terminal_progress`, which draws a rich progress bar on stderr only when
stderr is a terminal, so pipes, logs and tests stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: ``hook(done, total)``: units done so far (bytes or rows) and the total, if known.
ProgressHook = Callable[[int, "int | None"], None]


@contextmanager
def terminal_progress(description: str) -> Iterator[ProgressHook | None]:
    """A progress hook drawing a bar on stderr if it is a terminal; else yields None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def hook(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield hook
