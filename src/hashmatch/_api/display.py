"""Small HTML cards for notebooks (``_repr_html_`` of batches, link results and scores).

A card is a title, a few ``name: value`` facts and optionally one table. Everything shown
is a count, a name from the schema or a code: callers never pass a row's value, and every
string is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["html_card"]

Cell = object  # a count, a code, a name or None (shown empty)


def html_card(
    title: str,
    facts: Sequence[tuple[str, Cell]],
    table: tuple[Sequence[str], Sequence[Sequence[Cell]]] | None = None,
    *,
    max_rows: int = 20,
) -> str:
    """``<div>`` with a bold title, a facts line and a table (at most ``max_rows`` rows)."""
    parts = [f"<div><strong>{escape(title)}</strong>"]
    if facts:
        items = " &middot; ".join(f"{escape(k)}: <code>{_text(v)}</code>" for k, v in facts)
        parts.append(f"<div>{items}</div>")
    if table is not None:
        header, rows = table
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{_text(c)}</td>" for c in row) + "</tr>"
            for row in rows[:max_rows]
        )
        more = len(rows) - max_rows
        if more > 0:
            body += f'<tr><td colspan="{len(header)}">... {more} more</td></tr>'
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.4g}"
    return escape(str(value))
