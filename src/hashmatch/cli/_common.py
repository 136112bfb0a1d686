"""Helpers shared by the command modules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from hashmatch.errors import HashmatchError

#: Exit status for an expected, user-fixable error (bad input, bad schema, tampered file).
EXIT_USER_ERROR = 2


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn a :class:`HashmatchError` into ``error: ...`` (+ ``hint: ...``) on stderr, exit 2.

    Every command body runs inside this. Messages never contain raw values by construction
    (see hashmatch.errors); anything that is not a HashmatchError is a bug and propagates.
    """
    try:
        yield
    except HashmatchError as exc:
        typer.echo(f"error: {str(exc).strip()}", err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        raise typer.Exit(EXIT_USER_ERROR) from None


def reasons_line(name: str, counts: Counter[str]) -> str | None:
    """``"  field: reason n, reason n"``, most frequent first; None when nothing to say."""
    counted = counts.most_common()
    if not counted:
        return None
    return f"  {name}: " + ", ".join(f"{reason} {n:,}" for reason, n in counted)
