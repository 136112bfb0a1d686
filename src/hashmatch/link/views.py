"""A link's result as a user sees it: one table and a notebook card
(:meth:`LinkResult.to_pandas <hashmatch.link.result.LinkResult.to_pandas>` and
``_repr_html_``).

The table has one row per input row of every party, encoded or rejected, so that nothing
a party gave is silently missing: ``party, row, record_id, row_token, entity_id, status,
reason``. Entity ids are the strings the results files carry
(:func:`hashmatch.link.outputs.entity_id_strings`). Record ids, input row numbers and
rejected rows come from :class:`~hashmatch.link.result.HeldRecords`, i.e. from the
batches the caller passed; they are unknown for parties given as files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hashmatch._api.display import html_card
from hashmatch.link.outputs import entity_id_strings, row_token_strings

if TYPE_CHECKING:
    from hashmatch.link.result import HeldRecords, LinkResult

__all__ = ["COLUMNS", "STATUSES", "link_html", "link_table"]

COLUMNS = ("party", "row", "record_id", "row_token", "entity_id", "status", "reason")
#: ``matched``: the row's entity holds other rows; ``unmatched``: it is alone;
#: ``rejected``: the row was not encoded (see its ``reason``).
STATUSES = ("matched", "unmatched", "rejected")


def link_table(result: LinkResult, *, rejected: bool = True) -> Any:
    """The table of :meth:`LinkResult.to_pandas` (see the module docstring)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in the test extra
        msg = "LinkResult.to_pandas() needs pandas: pip install 'hashmatch[pandas]'"
        raise ImportError(msg) from None
    sizes = _entity_sizes(result)
    held = result.held or (None,) * len(result.parties)
    frames = []
    for info, tokens, entities, mine in zip(
        result.parties, result.row_tokens, result.entities, held, strict=True
    ):
        columns = _encoded_rows(info.party, tokens, entities, sizes, result.n_entities, mine)
        if rejected and mine is not None and len(mine.rejected_rows):
            columns = _append_rejected(columns, info.party, mine)
        frame = pd.DataFrame(
            {
                "party": pd.array(columns["party"], dtype="string"),
                "row": pd.array(columns["row"], dtype="Int64"),
                **{
                    name: pd.array(columns[name], dtype="string")
                    for name in ("record_id", "row_token", "entity_id", "status", "reason")
                },
            }
        )
        if mine is not None:
            frame = frame.sort_values("row", kind="stable")
        frames.append(frame)
    if not frames:
        return pd.DataFrame({name: pd.array([], dtype="string") for name in COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _entity_sizes(result: LinkResult) -> npt.NDArray[np.int64]:
    """Rows per entity number, over every party."""
    everything = np.concatenate([*result.entities, np.zeros(0, np.int64)])
    return np.bincount(everything, minlength=result.n_entities).astype(np.int64)


def _encoded_rows(
    party: str,
    tokens: npt.NDArray[np.uint8],
    entities: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    n_entities: int,
    mine: HeldRecords | None,
) -> dict[str, list[Any]]:
    n = len(entities)
    status = np.where(sizes[entities] > 1, "matched", "unmatched") if n else np.zeros(0, str)
    return {
        "party": [party] * n,
        "row": mine.row_numbers.tolist() if mine is not None else [None] * n,
        "record_id": list(mine.record_ids) if mine is not None else [None] * n,
        "row_token": row_token_strings(tokens),
        "entity_id": entity_id_strings(entities, n_entities),
        "status": status.tolist(),
        "reason": [None] * n,
    }


def _append_rejected(
    columns: dict[str, list[Any]], party: str, mine: HeldRecords
) -> dict[str, list[Any]]:
    k = len(mine.rejected_rows)
    extra = {
        "party": [party] * k,
        "row": mine.rejected_rows.tolist(),
        "record_id": [None] * k,
        "row_token": [None] * k,
        "entity_id": [None] * k,
        "status": ["rejected"] * k,
        "reason": list(mine.reject_reasons),
    }
    return {name: columns[name] + extra[name] for name in columns}


def link_html(result: LinkResult) -> str:
    """The notebook card: the threshold, then per party its rows and how many matched."""
    sizes = _entity_sizes(result)
    held = result.held or (None,) * len(result.parties)
    parties = [
        (
            info.party,
            info.source,
            info.rows,
            int((sizes[entities] > 1).sum()),
            None if mine is None else len(mine.rejected_rows),
        )
        for info, entities, mine in zip(result.parties, result.entities, held, strict=True)
    ]
    facts = [
        ("entities", result.n_entities),
        ("multi-row entities", result.entity_stats.multi_row_entities),
        ("threshold", f"{result.threshold.value:.3f} ({result.threshold.method})"),
        ("dedup", str(result.dedup)),
    ]
    pairs = [
        (s.party_a, s.party_b, s.candidates, s.accepted, s.kept, s.threshold)
        for s in result.pair_stats
    ]
    return html_card(
        "LinkResult", facts, (("party", "source", "rows", "matched", "rejected"), parties)
    ) + html_card(
        "party pairs",
        [],
        (("party a", "party b", "candidates", "at/above threshold", "linked", "cut"), pairs),
    )
