"""Merge the accepted pairs of every party pair into multi-party entities.

Every row of every party ends up in exactly one entity (a row nobody matched is an entity
of its own). Pairs are merged with union-find, **best-first** (score descending, ties by
``(party, row)`` of both ends), and a merge of two clusters X and Y is *refused* when:

* **same party** (unless ``dedup``): X and Y both hold a row of the same party, so the
  entity would contain two records of one party. Because pairs are taken best-first, the
  stronger link wins and the weaker one is dropped.
* **explicit non-match** (when a ``compare`` function is given): some row x of X and some
  row y of Y, other than the pair being merged, score below ``reject_below`` (the
  threshold minus a margin; a bar per party pair where their thresholds differ). This
  resolves the transitive conflict A1~B1, B1~C1 but A1 !~ C1: the coordinator scores
  the cross pairs of the two clusters (at most one row per party each without dedup, so
  a handful of comparisons) and keeps A1-B1 and B1-C1 apart when A1 and C1 are clearly
  different people. Cross pairs scoring between ``reject_below``
  and the threshold (weak evidence either way) do not block the merge.

  Every cross pair is checked while the two clusters have at most
  :data:`EXACT_CROSS_PAIRS` of them (always without dedup, for up to 32 parties). Beyond
  that (dedup at a low threshold grows clusters of hundreds of rows), checking them all
  would cost time quadratic in the cluster size, so the check takes a bounded sample:
  the two rows of the pair being merged and the oldest members of each cluster (its core:
  pairs merge best-first), :data:`CORE_ROWS` rows a side. Merging then stays near-linear
  in the number of pairs. The cross pairs the merges will ask about are scored ahead, a
  window of merges at a time, in one batch per party pair: the window is replayed on the
  clusters as they stand, deciding each merge whose scores are already known and taking
  the others as accepted (a merge that then asks about a pair the replay did not foresee
  scores it on demand).

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

from hashmatch._progress import ProgressHook
from hashmatch._types import Indices, RowTokens, Scores
from hashmatch.link.graph import UnionFind, lone_pairs

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
    reject_below: float | npt.ArrayLike | None = None,
    progress: ProgressHook | None = None,
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
        scores below ``reject_below``: one bar, or a P x P matrix whose ``[x, y]`` holds
        the rows of parties x and y to their own. Both or neither.
    progress:
        ``hook(done, total)`` over the pairs that go through the merge loop.

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
    lone = lone_pairs(lo, hi)
    parent[hi[lone]] = lo[lone]

    order = np.lexsort((hi, lo, -score.astype(np.float64)))
    order = order[~lone[order]]
    party_of = np.repeat(np.arange(len(party_rows)), party_rows).tolist()
    clusters = _Clusters(UnionFind(parent), party_of)
    bars = None if reject_below is None else np.broadcast_to(
        np.asarray(reject_below, np.float64), (len(party_rows), len(party_rows)))
    merger = _Merger(clusters, offsets, dedup, compare, bars)
    first, second = lo[order].tolist(), hi[order].tolist()
    for k0 in range(0, len(first), _WINDOW):
        window = first[k0 : k0 + _WINDOW], second[k0 : k0 + _WINDOW]
        if compare is not None:
            merger.prefetch(*window)
        for a, b in zip(*window, strict=True):
            merger.merge(a, b)
        if progress is not None:
            progress(k0 + len(window[0]), len(first))
    roots = clusters.sets.roots()
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


#: Cross pairs of two clusters up to which the conflict check compares every one of them.
EXACT_CROSS_PAIRS = 256
#: Rows a side compared when the clusters have more cross pairs (see the module docstring).
CORE_ROWS = 6
#: Prefetched pairs scored per call of ``compare`` (bounds its temporary arrays).
_PREFETCH_CHUNK = 1 << 18
#: Merges whose conflict checks are foreseen and scored together (see _Merger.prefetch).
_WINDOW = 2048


class _Clusters:
    """Union-find over all rows with each cluster's members (oldest first) and parties."""

    def __init__(self, sets: UnionFind, party_of: list[int]) -> None:
        self.sets = sets
        self.party_of = party_of
        # Rows reaching the merge loop appear in no fast-path pair, so a root without an
        # entry here is still a singleton.
        self.members: dict[int, list[int]] = {}
        self.parties: dict[int, int] = {}  # root -> bit mask of the parties it holds

    def cluster(self, root: int) -> list[int]:
        return self.members.get(root) or [root]

    def party_mask(self, root: int) -> int:
        return self.parties.get(root, 1 << self.party_of[root])

    def join(self, ra: int, rb: int) -> None:
        """Merge the clusters of roots ``ra`` and ``rb``; the larger one's root survives
        (``ra`` on a tie) and keeps its members first, so a list grows in place."""
        xa, xb = self.cluster(ra), self.cluster(rb)
        keep, drop = (ra, rb) if len(xa) >= len(xb) else (rb, ra)
        big, small = (xa, xb) if keep == ra else (xb, xa)
        self.sets.attach(drop, keep)
        merged = self.members.pop(keep, None) or list(big)
        merged.extend(small)
        self.members[keep] = merged
        self.members.pop(drop, None)
        self.parties[keep] = self.party_mask(ra) | self.party_mask(rb)
        self.parties.pop(drop, None)


def _cross_pairs(
    xa: list[int], size_a: int, xb: list[int], size_b: int, a: int, b: int
) -> list[tuple[int, int]]:
    """The cross pairs the conflict check scores, as ``(lower row, higher row)``: every pair
    of clusters ``xa`` x ``xb`` but the one being merged, or for large clusters a bounded
    sample (rows ``a``/``b`` and the oldest members of each side; see the module
    docstring). ``xa``/``xb`` may be just the first members of a cluster of ``size_a`` /
    ``size_b`` rows (-1: the whole list)."""
    size_a, size_b = len(xa) if size_a < 0 else size_a, len(xb) if size_b < 0 else size_b
    if size_a * size_b > EXACT_CROSS_PAIRS:
        xa = [a, *[x for x in xa[:CORE_ROWS] if x != a][: CORE_ROWS - 1]]
        xb = [b, *[y for y in xb[:CORE_ROWS] if y != b][: CORE_ROWS - 1]]
    return [(x, y) if x < y else (y, x) for x in xa for y in xb if (x, y) != (a, b)]


class _Replay:
    """An overlay of :class:`_Clusters` for foreseeing merges: the clusters stay as they
    are; joins are recorded here, with each cluster's size and first members only (all the
    conflict check can look at), so a replay costs O(1) per merge."""

    def __init__(self, base: _Clusters) -> None:
        self.base = base
        self.parent: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.heads: dict[int, list[int]] = {}
        self.parties: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = self.base.sets.find(x)
        while root in self.parent:
            root = self.parent[root]
        return root

    def size(self, root: int) -> int:
        return self.sizes.get(root) or len(self.base.cluster(root))

    def head(self, root: int) -> list[int]:
        return self.heads.get(root) or self.base.cluster(root)[:EXACT_CROSS_PAIRS]

    def party_mask(self, root: int) -> int:
        return self.parties.get(root) or self.base.party_mask(root)

    def join(self, ra: int, rb: int) -> None:
        size_a, size_b = self.size(ra), self.size(rb)
        keep, drop = (ra, rb) if size_a >= size_b else (rb, ra)
        self.parent[drop] = keep
        self.heads[keep] = (self.head(keep) + self.head(drop))[:EXACT_CROSS_PAIRS]
        self.sizes[keep] = size_a + size_b
        self.parties[keep] = self.party_mask(ra) | self.party_mask(rb)


class _Merger:
    """Applies the refusal rules of this module to each merge, in best-first order."""

    def __init__(
        self,
        clusters: _Clusters,
        offsets: npt.NDArray[np.int64],
        dedup: bool,
        compare: PairScorer | None,
        bars: npt.NDArray[np.float64] | None,
    ) -> None:
        self.clusters = clusters
        self.offsets = offsets
        self.dedup = dedup
        self.compare = compare
        self.bars = bars  # reject_below per party pair
        # each known cross pair's score less its party pair's bar: below 0 refuses a merge
        self.known = _KnownScores(int(offsets[-1]))
        self.merged = self.redundant = self.refused_same_party = self.refused_conflict = 0

    def prefetch(self, first: list[int], second: list[int]) -> None:
        """Score, in one batch per party pair, the cross pairs the merges ``first[k] ~
        second[k]`` will ask about. The merges are replayed once on an overlay of the
        clusters (which needs no score): a merge whose cross pairs all have known scores is
        decided as the real one will be, any other is taken as accepted; what the replay
        did not foresee is scored on demand. (Replaying again with the new scores, up to
        4 rounds, cost more Python than the calls it saved: benchmarks/README.md,
        "Entity merging: one replay a window".)"""
        asked = self._replay(first, second)
        if asked:
            pairs = sorted(set(asked))
            self.known.add(pairs, self._score(pairs))

    def _replay(self, first: list[int], second: list[int]) -> list[tuple[int, int]]:
        """The cross pairs without a known score that replaying the merges asks about."""
        replay = _Replay(self.clusters)
        asked: list[tuple[int, int]] = []
        for a, b in zip(first, second, strict=True):
            ra, rb = replay.find(a), replay.find(b)
            if ra == rb or (not self.dedup and replay.party_mask(ra) & replay.party_mask(rb)):
                continue
            pairs = _cross_pairs(replay.head(ra), replay.size(ra), replay.head(rb),
                                 replay.size(rb), a, b)
            known = self.known.get(pairs)
            if any(k is not None and k < 0 for k in known):
                continue  # refused for certain
            asked.extend(p for p, k in zip(pairs, known, strict=True) if k is None)
            replay.join(ra, rb)
        return asked

    def merge(self, a: int, b: int) -> None:
        clusters = self.clusters
        ra, rb = clusters.sets.find(a), clusters.sets.find(b)
        if ra == rb:
            self.redundant += 1
            return
        if not self.dedup and clusters.party_mask(ra) & clusters.party_mask(rb):
            self.refused_same_party += 1
            return
        if self.compare is not None and self._conflict(
            _cross_pairs(clusters.cluster(ra), -1, clusters.cluster(rb), -1, a, b)
        ):
            self.refused_conflict += 1
            return
        clusters.join(ra, rb)
        self.merged += 1

    def _conflict(self, pairs: list[tuple[int, int]]) -> bool:
        known = self.known.get(pairs)
        if any(k is not None and k < 0 for k in known):
            return True
        missing = [p for p, k in zip(pairs, known, strict=True) if k is None]
        if missing:
            got = self._score(missing)
            self.known.add(missing, got)
            return any(g < 0 for g in got)
        return False

    def _score(self, pairs: list[tuple[int, int]]) -> list[float]:
        """Scores of row pairs ``(s, t)`` (global rows, ``s < t``) less their party pair's
        bar, one call of ``compare`` per party pair (and per :data:`_PREFETCH_CHUNK`
        pairs)."""
        assert self.compare is not None and self.bars is not None
        s, t = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        ps = np.searchsorted(self.offsets, s, side="right") - 1
        pt = np.searchsorted(self.offsets, t, side="right") - 1
        out = np.empty(len(s), np.float64)
        for x, y in sorted(set(zip(ps.tolist(), pt.tolist(), strict=True))):
            where = np.flatnonzero((ps == x) & (pt == y))
            for k0 in range(0, len(where), _PREFETCH_CHUNK):
                part = where[k0 : k0 + _PREFETCH_CHUNK]
                rows_s = s[part] - self.offsets[x]
                rows_t = t[part] - self.offsets[y]
                out[part] = np.asarray(self.compare(x, rows_s, y, rows_t),
                                       dtype=np.float64) - self.bars[x, y]
        scores: list[float] = out.tolist()
        return scores


class _KnownScores:
    """Scores of row pairs already computed, by key ``s * rows + t`` (a dict: the checks
    ask a few dozen pairs at a time, where numpy's per-call cost would dominate)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.scores: dict[int, float] = {}

    def add(self, pairs: list[tuple[int, int]], scores: list[float]) -> None:
        rows = self.rows
        self.scores.update(zip([s * rows + t for s, t in pairs], scores, strict=True))

    def get(self, pairs: list[tuple[int, int]]) -> list[float | None]:
        """Known scores, None where unknown."""
        rows, scores = self.rows, self.scores
        return [scores.get(s * rows + t) for s, t in pairs]
