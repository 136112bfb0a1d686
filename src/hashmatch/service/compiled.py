"""The compiled route of a lookup: one query record answered in one C call.

:class:`~hashmatch.kernel._one_record.OneRecord` does for one record what the index's
numpy route (:meth:`RegistryIndex.match_reference
<hashmatch.service.index.RegistryIndex.match_reference>`) does in ~60 small numpy calls:
the record's segment popcounts and aligned swap segments (``_QueryParty``), its blocking
keys (:class:`~hashmatch.service.query_keys.QueryKeys`), the live rows of the blocks
holding them (binary search in each index part's sorted keys, blocks over
:data:`~hashmatch.registry.candidates.MAX_BLOCK_ROWS` live rows skipped, deduped, in
record-number order) and their combined scores, from the same C function the link's
:class:`~hashmatch.link.scorer.PairScorer` runs (``_hm_combined.h``), so the scores are
the batch scorer's to the bit. This module lays the index's arrays out for it, in the
order and types :meth:`PairScorer._build_plan` gives the kernel (the property test
``tests/unit/service/test_compiled_match.py`` holds the two routes to equal answers).

None (the numpy route answers) when the module is not built or the layout has more
segments than the C score handles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hashmatch.kernel import segment_mask
from hashmatch.kernel.candidates import MAX_SEGMENTS
from hashmatch.link.segments import FIELD_AWARE_WEIGHT, SWAP_MIN_DICE
from hashmatch.registry import candidates as cand

if TYPE_CHECKING:
    from hashmatch.service.index import RegistryIndex, _Part

try:
    from hashmatch.kernel._one_record import OneRecord
except ImportError:  # not built: the numpy route answers
    OneRecord = None

__all__ = ["matcher_for", "part_arrays"]


def _u8(a: Any) -> Any:
    a = np.asarray(a)
    return np.ascontiguousarray(a.view(np.uint8) if a.dtype == np.bool_ else a, np.uint8)


def _shared(index: RegistryIndex) -> dict[str, Any]:
    """The layout's facts, the query's side of the score (as PairScorer derives them
    from its left party, which the service builds from the first part's encoding)."""
    enc, layout, config = index.parts[0].encoding, index.layout, index.config
    words = enc.clks.shape[1]
    stable = list(enc.disagree_below.items())
    swaps = list(enc.swap_segments)
    counted = set(enc.disagree_below) | {s for pair in swaps for s in pair}
    names = [n for n in layout.token_names if n in index.parts[0].rows.tokens]
    evidence = [(n, ev) for n, ev in config.evidence.items() if n in names]
    dpb = config.dice_per_bit
    i64 = np.int64
    return {
        "seg_lo": np.array([start >> 6 for start, _ in enc.segments], i64),
        "seg_hi": np.array([(start + bits + 63) >> 6 for start, bits in enc.segments], i64),
        "seg_mask": np.array([segment_mask(start, bits, words) for start, bits in
                              enc.segments], np.uint64).reshape(len(enc.segments), words),
        "seg_start": np.array([start for start, _ in enc.segments], i64),
        "seg_bits": np.array([bits for _, bits in enc.segments], i64),
        "seg_field": np.array([layout.field_names.index(f) for f in enc.field_names], i64),
        "nfields": len(layout.field_names),
        "counted": np.array([s in counted for s in range(len(enc.segments))], np.uint8),
        "sw_s": np.array([s for s, _ in swaps], i64),
        "sw_t": np.array([t for _, t in swaps], i64),
        "sw_words": np.array([(enc.segments[s][1] + 63) >> 6 for s, _ in swaps], i64),
        "st_seg": np.array([s for s, _ in stable], i64),
        "st_below": np.array([below for _, below in stable], np.float32),
        "token_names": list(layout.token_names),
        "ev_cols": [list(layout.token_names).index(n) for n, _ in evidence],
        "ev_names": [n for n, _ in evidence],
        "tok_bonus": np.array([max(ev.agree_bits, 0.0) * dpb for _, ev in evidence],
                              np.float64),
        "tok_penalty": np.array([max(-ev.disagree_bits, 0.0) * dpb for _, ev in evidence],
                                np.float64),
        "max_bonus": float(config.max_bonus), "max_penalty": float(config.max_penalty),
        "factor_pow": config.disagreement_factor ** np.arange(len(stable) + 1,
                                                              dtype=np.float64),
        "blend": float(FIELD_AWARE_WEIGHT),
    }


def _side_by_side(tokens: Any, names: list[str], rows: int) -> Any:
    out = np.empty((rows, len(names), 16), np.uint8)
    for k, name in enumerate(names):
        out[:, k] = tokens[name]
    return out


def part_arrays(part: _Part, shared: dict[str, Any]) -> dict[str, Any]:
    """One index part's side of the score and its key table (built once per part)."""
    enc = part.encoding
    # segments._nested of the query's view (the layout's flags when any is set, see
    # service.index._view) and the part's
    flags = np.asarray(enc.nested, np.bool_)
    nested = enc.view.nested if not flags.any() else \
        flags if enc.view.nested is None else flags | enc.view.nested
    sw_s, sw_t = (int(s) for s in shared["sw_s"]), (int(t) for t in shared["sw_t"])
    return {
        "first": part.first,
        "b": np.ascontiguousarray(enc.clks, np.uint64),
        "tot_b": np.ascontiguousarray(enc.view.totals, np.int64),
        "pop_b": np.ascontiguousarray(enc.view.popcounts, np.uint16),
        "pres_b": _u8(enc.view.present),
        "nested": np.zeros(len(enc.segments), np.uint8) if nested is None else _u8(nested),
        "swap_rows": [np.ascontiguousarray(enc.aligned[s], np.uint64) for s in sw_s]
        + [np.ascontiguousarray(enc.aligned[t], np.uint64) for t in sw_t],
        # the evidence columns side by side, [rows, columns, 16] (as PairScorer._tokens)
        "tok_b": _side_by_side(enc.tokens, shared["ev_names"], len(enc.clks)),
        "tokens": [_u8(part.rows.tokens[n]) for n in shared["token_names"]],
        "keys": np.ascontiguousarray(part.keys, np.int64),
        "key_rows": np.ascontiguousarray(part.key_rows, np.int64),
    }


def _keyplan(index: RegistryIndex) -> dict[str, Any]:
    qk = index.query_keys
    bands, width = qk.band_cols.shape
    return {
        "bits": qk.rank_t.shape[0], "hashes": qk.rank_t.shape[1],
        "rank_t": np.ascontiguousarray(qk.rank_t, np.int32),
        "empty": np.ascontiguousarray(qk.empty, np.int64),
        "pool_field": np.ascontiguousarray(qk.pool_field, np.int64),
        "bands": bands, "width": width,
        "band_cols": np.ascontiguousarray(qk.band_cols, np.int64),
        "band_used": _u8(qk.band_used),
        "band_offset": np.ascontiguousarray(qk.band_offset, np.uint64),
        "ntokens": len(qk.token_names),
        "salts": np.ascontiguousarray(qk.salts, np.uint64),
    }


def matcher_for(index: RegistryIndex) -> Any | None:
    """The compiled matcher over the index as it is now, or None (numpy route)."""
    enc = index.parts[0].encoding
    if OneRecord is None or len(enc.segments) > MAX_SEGMENTS or SWAP_MIN_DICE != 0.5 \
            or len(index.parts) > 2:
        return None
    shared = _shared(index)
    plans = [part.compiled_arrays(shared) for part in index.parts]
    whole = len(index.parts) == 1 and bool(index.live.all())
    return OneRecord(shared, plans, _keyplan(index), _u8(index.live),
                     np.ascontiguousarray(index.rid_of, np.int64),
                     np.ascontiguousarray(index.party_of, np.int64), int(whole),
                     cand.MAX_BLOCK_ROWS)
