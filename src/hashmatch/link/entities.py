"""Merge the accepted pairs of every party pair into multi-party entities.

Every row of every party ends up in exactly one entity (a row nobody matched is an entity
of its own). Pairs are merged with union-find, **best-first** (score descending, ties by
``(party, row)`` of both ends), and a merge of two clusters X and Y is *refused* when:

* **same party** (unless ``dedup``): X and Y both hold a row of the same party, so the
  entity would contain two records of one party. Because pairs are taken best-first, the
  stronger link wins and the weaker one is dropped.
* **explicit non-match** (when a ``compare`` function is given): some row x of X and some
  row y of Y, other than the pair being merged, score below ``reject_below`` (the
  threshold minus a margin). This resolves the transitive conflict A1~B1, B1~C1 but
  A1 !~ C1: the coordinator scores the cross pairs of the two clusters (at most one row per
  party each without dedup, so a handful of comparisons) and keeps A1-B1 and B1-C1 apart
  when A1 and C1 are clearly different people. Cross pairs scoring between ``reject_below``
  and the threshold (weak evidence either way) do not block the merge.

Entity ids carry no information about rows or parties: each row's token is encrypted
under a key derived from all input files (a keyed pseudo-random permutation, AES), an
entity's key is the smallest ciphertext among its rows, and entities are numbered in the
order of their keys. The same inputs give the same ids; nobody without every input file
can relate an id to a row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hashmatch._types import Indices, RowTokens, Scores

__all__ = [
    "EntityStats",
    "PairScorer",
    "entity_id_key",
    "merge_entities",
    "number_entities",
]

#: ``compare(party_a, rows_a, party_b, rows_b) -> scores``: element-wise combined scores of
#: the row pairs ``(rows_a[k], rows_b[k])`` of two parties (possibly the same with dedup).
PairScorer = Callable[[int, Indices, int, Indices], Scores]


@dataclass(frozen=True)
class EntityStats:
    """Counts from merging: pairs merged and pairs refused, by reason."""

    pairs_in: int
    merged: int
    redundant: int  # both rows already in the same entity
    refused_same_party: int
    refused_conflict: int
    entities: int
    multi_row_entities: int


def merge_entities(
    party_rows: Sequence[int],
    party_a: Indices,
    row_a: Indices,
    party_b: Indices,
    row_b: Indices,
    score: Scores,
    *,
    dedup: bool = False,
    compare: PairScorer | None = None,
    reject_below: float | None = None,
) -> tuple[list[npt.NDArray[np.int64]], EntityStats]:
    """Union accepted pairs into entities under the rules of this module.

    Parameters
    ----------
    party_rows:
        Number of rows of each party (parties are numbered 0..P-1).
    party_a, row_a, party_b, row_b, score:
        The accepted pairs (after one-to-one solving), one element per pair.
    dedup:
        Allow an entity to hold several rows of one party (within-party duplicates).
    compare, reject_below:
        Score cross pairs of two clusters before merging them; refuse the merge if any
        scores below ``reject_below``. Both or neither.

    Returns
    -------
    (labels, stats): ``labels[p][r]`` is the entity (0..E-1, in no meaningful order; see
    :func:`number_entities`) of row ``r`` of party ``p``.

    Example
    -------
    >>> import numpy as np
    >>> a = np.array
    >>> labels, st = merge_entities([1, 1, 1], a([0, 1]), a([0, 0]), a([1, 2]), a([0, 0]),
    ...                             a([0.9, 0.9], np.float32))
    >>> [lab.tolist() for lab in labels], st.merged
    ([[0], [0], [0]], 2)
    """
    if (compare is None) != (reject_below is None):
        msg = "compare and reject_below go together"
        raise ValueError(msg)
    offsets = np.concatenate([[0], np.cumsum(party_rows)]).astype(np.int64)
    pa, ra, pb, rb = (np.asarray(x, dtype=np.int64) for x in (party_a, row_a, party_b, row_b))
    score = np.asarray(score, dtype=np.float32)
    _check_pairs(party_rows, pa, ra, pb, rb, dedup)
    node_a, node_b = offsets[pa] + ra, offsets[pb] + rb
    lo, hi = np.minimum(node_a, node_b), np.maximum(node_a, node_b)
    n_nodes = int(offsets[-1])
    parent = np.arange(n_nodes, dtype=np.int64)

    # Fast path: a pair whose rows appear in no other pair joins two singletons; nothing
    # can conflict with it, so it merges without the per-pair loop.
    degree = np.bincount(np.concatenate([lo, hi]), minlength=n_nodes)
    lone = (degree[lo] == 1) & (degree[hi] == 1)
    parent[hi[lone]] = lo[lone]

    order = np.lexsort((hi, lo, -score.astype(np.float64)))
    order = order[~lone[order]]
    merger = _Merger(parent, offsets, dedup, compare, reject_below)
    if compare is not None:
        merger.prefetch(lo[order], hi[order])
    for k in order.tolist():
        merger.merge(int(lo[k]), int(hi[k]))
    roots = merger.roots()
    _, labels = np.unique(roots, return_inverse=True)
    labels = labels.astype(np.int64)
    n_entities = int(labels.max()) + 1 if n_nodes else 0
    sizes = np.bincount(labels, minlength=n_entities)
    stats = EntityStats(
        pairs_in=len(score),
        merged=int(lone.sum()) + merger.merged,
        redundant=merger.redundant,
        refused_same_party=merger.refused_same_party,
        refused_conflict=merger.refused_conflict,
        entities=n_entities,
        multi_row_entities=int((sizes > 1).sum()),
    )
    return [labels[offsets[p] : offsets[p + 1]] for p in range(len(party_rows))], stats


def entity_id_key(inputs: Sequence[tuple[str, str]]) -> bytes:
    """A 32-byte key for :func:`number_entities` from ``(party, file digest)`` of every input.

    Order-independent, so listing the files in another order gives the same ids.
    """
    h = hashlib.sha256(b"hashmatch/v1/entity-ids\0")
    for party, digest in sorted(inputs):
        h.update(f"{party}\0{digest}\0".encode())
    return h.digest()


def number_entities(
    labels: Sequence[npt.NDArray[np.int64]],
    row_tokens: Sequence[RowTokens],
    party_names: Sequence[str],
    key: bytes,
) -> list[npt.NDArray[np.int64]]:
    """Renumber entities 0..E-1 in an order that reveals nothing and depends only on inputs.

    Each row's token is masked per party (so equal tokens of two parties differ) and
    encrypted with AES under ``key`` (a pseudo-random permutation of 128-bit blocks);
    an entity's sort key is its smallest ciphertext. Returns the new labels per party.
    """
    n_entities = max((int(lab.max()) + 1 for lab in labels if len(lab)), default=0)
    cipher = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    hi = np.full(n_entities, np.iinfo(np.uint64).max, dtype=np.uint64)
    lo = np.full(n_entities, np.iinfo(np.uint64).max, dtype=np.uint64)
    parts: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]] = []
    for lab, tokens, party in zip(labels, row_tokens, party_names, strict=True):
        mask = np.frombuffer(hashlib.sha256(b"mask\0" + party.encode()).digest()[:16], np.uint8)
        blob = np.ascontiguousarray(np.asarray(tokens, dtype=np.uint8) ^ mask).tobytes()
        enc = np.frombuffer(cipher.update(blob), dtype=">u8").reshape(-1, 2).astype(np.uint64)
        parts.append((lab, enc))
    # Smallest (hi, lo) per entity: take the minimum hi, then the minimum lo among rows
    # that reach it (128-bit keys; a 64-bit tie is astronomically rare but handled).
    for lab, enc in parts:
        np.minimum.at(hi, lab, enc[:, 0])
    for lab, enc in parts:
        at_min = enc[:, 0] == hi[lab]
        np.minimum.at(lo, lab[at_min], enc[at_min, 1])
    rank = np.empty(n_entities, dtype=np.int64)
    rank[np.lexsort((lo, hi))] = np.arange(n_entities)
    return [rank[lab] for lab in labels]


def _check_pairs(
    party_rows: Sequence[int],
    pa: Indices,
    ra: Indices,
    pb: Indices,
    rb: Indices,
    dedup: bool,
) -> None:
    sizes = np.asarray(party_rows, dtype=np.int64)
    if len(pa) == 0:
        return
    n = len(sizes)
    if min(pa.min(), pb.min()) < 0 or max(pa.max(), pb.max()) >= n:
        msg = "party index out of range"
        raise ValueError(msg)
    if min(ra.min(), rb.min()) < 0 or (ra >= sizes[pa]).any() or (rb >= sizes[pb]).any():
        msg = "row index out of range"
        raise ValueError(msg)
    if not dedup and (pa == pb).any():
        msg = "a within-party pair was given without dedup"
        raise ValueError(msg)
    if ((pa == pb) & (ra == rb)).any():
        msg = "a pair joins a row with itself"
        raise ValueError(msg)


#: Connected components up to this many rows get their conflict scores in one batch.
_PREFETCH_MAX_ROWS = 32


class _Merger:
    """Union-find over all rows with member lists, applying the refusal rules per merge."""

    def __init__(
        self,
        parent: npt.NDArray[np.int64],
        offsets: npt.NDArray[np.int64],
        dedup: bool,
        compare: PairScorer | None,
        reject_below: float | None,
    ) -> None:
        self.parent = parent.tolist()
        self.offsets = offsets
        self.dedup = dedup
        self.compare = compare
        self.reject_below = reject_below
        self.members: dict[int, list[int]] = {}
        self.scores: dict[tuple[int, int], float] = {}  # (node, node) -> score, node < node
        self.merged = self.redundant = self.refused_same_party = self.refused_conflict = 0

    def prefetch(self, lo: Indices, hi: Indices) -> None:
        """Score, in one batch per party pair, every pair of rows that a conflict check may
        ask about: rows of one connected component of the remaining pairs (components of
        at most :data:`_PREFETCH_MAX_ROWS` rows; larger ones are scored on demand)."""
        assert self.compare is not None
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        components: dict[int, list[int]] = {}
        for x in sorted(parent):
            components.setdefault(find(x), []).append(x)
        requests: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
        for nodes in components.values():
            if len(nodes) > _PREFETCH_MAX_ROWS:
                continue
            parties = self._parties(nodes)
            for k, (x, px) in enumerate(zip(nodes, parties, strict=True)):
                for y, py in zip(nodes[k + 1 :], parties[k + 1 :], strict=True):
                    if px != py or self.dedup:
                        rows = requests.setdefault((px, py), ([], []))
                        rows[0].append(x)
                        rows[1].append(y)
        for (px, py), (xs, ys) in requests.items():
            rx = np.array(xs, np.int64) - self.offsets[px]
            ry = np.array(ys, np.int64) - self.offsets[py]
            got = np.asarray(self.compare(px, rx, py, ry), dtype=np.float64).tolist()
            self.scores.update(zip(zip(xs, ys, strict=True), got, strict=True))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def cluster(self, root: int) -> list[int]:
        # Rows reaching the loop appear in no fast-path pair, so a root without a member
        # list is still a singleton.
        return self.members.get(root) or [root]

    def merge(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            self.redundant += 1
            return
        xa, xb = self.cluster(ra), self.cluster(rb)
        party_a = self._parties(xa)
        party_b = self._parties(xb)
        if not self.dedup and not set(party_a).isdisjoint(party_b):
            self.refused_same_party += 1
            return
        if self.compare is not None and self._conflict(xa, party_a, xb, party_b, a, b):
            self.refused_conflict += 1
            return
        keep, drop = (ra, rb) if len(xa) >= len(xb) else (rb, ra)
        self.parent[drop] = keep
        self.members.pop(drop, None)
        self.members[keep] = xa + xb
        self.merged += 1

    def _parties(self, nodes: list[int]) -> list[int]:
        found: list[int] = (np.searchsorted(self.offsets, nodes, side="right") - 1).tolist()
        return found

    def _conflict(
        self, xa: list[int], pa: list[int], xb: list[int], pb: list[int], a: int, b: int
    ) -> bool:
        assert self.compare is not None and self.reject_below is not None
        groups: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
        for x, px in zip(xa, pa, strict=True):
            for y, py in zip(xb, pb, strict=True):
                if {x, y} == {a, b}:
                    continue
                (s, ps), (t, pt) = sorted(((x, px), (y, py)))
                known = self.scores.get((s, t))
                if known is not None:
                    if known < self.reject_below:
                        return True
                    continue
                rows = groups.setdefault((ps, pt), ([], []))
                rows[0].append(s - int(self.offsets[ps]))
                rows[1].append(t - int(self.offsets[pt]))
        for (ps, pt), (rs, rt) in sorted(groups.items()):
            scores = self.compare(ps, np.array(rs, np.int64), pt, np.array(rt, np.int64))
            if (np.asarray(scores) < self.reject_below).any():
                return True
        return False

    def roots(self) -> npt.NDArray[np.int64]:
        parent = np.array(self.parent, dtype=np.int64)
        while True:  # pointer jumping: depth halves each round
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return parent
            parent = grand
