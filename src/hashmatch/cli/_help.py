"""How option types show in ``--help``: nothing for a flag.

Typer (0.2x) prints each option's type beside it, ``<bool>`` for a flag too, although a
flag takes no value (``--dedup``, not ``--dedup true``): it reads as if one were needed.
:func:`hide_flag_types` makes flags show no type, for every command of this CLI.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption


def hide_flag_types() -> None:
    """Show no type for flags in help pages (idempotent)."""
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_hides_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return shown(self, ctx)  # type: ignore[no-any-return]

    display_type_rich._hides_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
