"""Helpers shared by the command modules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from hashmatch.atomic import os_error_hint
from hashmatch.errors import HashmatchError

#: Exit status for an expected, user-fixable error (bad input, bad schema, tampered file).
EXIT_USER_ERROR = 2


def force_option(help: str) -> Any:
    """The ``--force`` flag every writing command takes (see hashmatch.output_policy)."""
    return typer.Option("--force", help=help, metavar="", show_default=False)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn an expected error into ``error: ...`` (+ ``hint: ...``) on stderr, exit 2.

    Every command body runs inside this. A :class:`HashmatchError` carries its message
    (never a raw value, by construction: see hashmatch.errors); an :class:`OSError` the
    library did not anticipate (permission denied, read-only file system, full disk,
    missing folder, a folder where a file was expected) becomes one line naming the path
    and the reason. Anything else is a bug and propagates.
    """
    try:
        yield
    except HashmatchError as exc:
        _report(str(exc).strip(), exc.hint)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _report(f"{where}{exc.strerror or type(exc).__name__}", os_error_hint(exc))


def _report(message: str, hint: str | None) -> None:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(EXIT_USER_ERROR) from None


def reasons_line(name: str, counts: Counter[str]) -> str | None:
    """``"  field: reason n, reason n"``, most frequent first; None when nothing to say."""
    counted = counts.most_common()
    if not counted:
        return None
    return f"  {name}: " + ", ".join(f"{reason} {n:,}" for reason, n in counted)
