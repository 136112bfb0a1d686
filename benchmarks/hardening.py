"""Linkage quality and leakage of each hardening option on FEBRL 4.

For each option (and the recommended profile) the two FEBRL 4 files are encoded with a
fixed schema, hardened, compared in full (5000 x 5000 Dice by a float32 matrix product),
matched one-to-one greedily, and scored against the truth (``rec-N-org`` <-> ``rec-N-dup-0``):
F1 at the best threshold and at an automatic (Otsu) threshold of all pair scores.
Leakage is measured on file A with the audit's own functions: length correlation and
mutual information, per-position bit-rate skew, rows in frequent patterns, and the
simulated frequency attack on given names.

Raw sizes: XOR folding needs a raw filter twice the segment, balancing half of it. Each
raw filter is built at its raw size with ``k`` resolved for that size by the schema rule
(``defaults.default_k``), so every option starts from a normally filled filter.

Until the encoder pipeline takes a ``hardening`` table, the raw filters are built here
from the encoder's own parts (normalisers, ``encode.features``, ``encode.bloom``'s
``feature_positions``, ``encode.keys``), which is what the pipeline does per segment.

    python benchmarks/hardening.py                     # full table (about a minute)
    python benchmarks/hardening.py --quick             # 600 records, smoke test
    python benchmarks/hardening.py --markdown out.md   # also write the table
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hashmatch.audit.privacy import audit_clks, length_leakage
from hashmatch.encode.bloom import feature_positions
from hashmatch.encode.features import feature_function
from hashmatch.encode.harden import (
    RECOMMENDED,
    Hardening,
    apply_hardening,
    pack_bits,
    raw_layout,
    salt_features,
    unpack_bits,
)
from hashmatch.encode.keys import LinkageSecret
from hashmatch.normalize import InvalidValue, MissingValue, make_normalizer
from hashmatch.schema import load_schema
from hashmatch.schema.defaults import default_k
from hashmatch.schema.model import ColumnSource, Schema

DEFAULT_DATA = Path("/work/shared/data/febrl4")
CANDIDATES = 8

#: FEBRL 4 schema: the person fields, a 1024-bit CLK, even segment sizes (for balance);
#: soc_sec_id left out (with it the task is nearly exact and every option scores ~1.0).
FULL = {
    "version": 1,
    "name": "febrl4-hardening",
    "clk": {"bits": 1024},
    "fields": [
        {"name": "given_name", "type": "name", "bloom": {"bits": 240}},
        {"name": "surname", "type": "name", "bloom": {"bits": 240}},
        {"name": "address", "type": "address", "bloom": {"bits": 240}},
        {"name": "suburb", "type": "text", "bloom": {"bits": 128}},
        {"name": "postcode", "type": "postcode", "bloom": {"bits": 64}},
        {"name": "date_of_birth", "type": "date", "bloom": {"bits": 112}},
    ],
}
#: The harder task: names and date of birth only (address fields left out).
NAMES_DOB = {
    "version": 1,
    "name": "febrl4-names-dob",
    "clk": {"bits": 512},
    "fields": [
        {"name": "given_name", "type": "name", "bloom": {"bits": 192}},
        {"name": "surname", "type": "name", "bloom": {"bits": 192}},
        {"name": "date_of_birth", "type": "date", "bloom": {"bits": 128}},
    ],
}
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "febrl4" / "schema.toml"
SCHEMAS = {"full": FULL, "names_dob": NAMES_DOB, "example": EXAMPLE}
COLUMNS = {
    "given_name": ("given_name",),
    "surname": ("surname",),
    "address": ("street_number", "address_1", "address_2"),
    "suburb": ("suburb",),
    "postcode": ("postcode",),
    "date_of_birth": ("date_of_birth",),
    "state": ("state",),
    "soc_sec_id": ("soc_sec_id",),
}

OPTIONS: dict[str, Hardening] = {
    "none": Hardening(),
    "permute": Hardening(permute=True),
    "xor_fold": Hardening(xor_fold=True),
    "rule90": Hardening(rule90=True, permute=True),
    "balance": Hardening(balance=True),
    "pad 0.5": Hardening(pad_fill=0.5, permute=True),
    "blip eps=50": Hardening(blip_epsilon=50.0, permute=True),
    "blip eps=30": Hardening(blip_epsilon=30.0, permute=True),
    "blip eps=20": Hardening(blip_epsilon=20.0, permute=True),
    "balance+blip eps=40": Hardening(balance=True, blip_epsilon=40.0),
    "balance+blip eps=30": Hardening(balance=True, blip_epsilon=30.0),
    "balance+blip eps=25": Hardening(balance=True, blip_epsilon=25.0),
    "balance+blip eps=20": Hardening(balance=True, blip_epsilon=20.0),
    "salt yob": Hardening(salt="date_of_birth:year", permute=True),
    "recommended": RECOMMENDED,
}


@dataclass(frozen=True)
class Party:
    ids: list[str]
    values: dict[str, list[str | None]]  # field -> canonical value per row


@dataclass(frozen=True)
class Row:
    option: str
    f1_best: float
    threshold_best: float
    f1_auto: float
    threshold_auto: float
    length_corr: float
    length_mi: float
    bit_rate_cv: float
    frequent_share: float
    near_share: float
    attack: str
    seconds: float


def read_party(path: Path, limit: int | None, schema: Schema) -> Party:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        rows = [r for r in reader if r][:limit]
    index = {name: i for i, name in enumerate(header)}
    values: dict[str, list[str | None]] = {}
    for f in schema.fields:
        source = ColumnSource(columns=COLUMNS[f.name], date_formats=("%Y%m%d",))
        norm = make_normalizer(f.type, f.normalize, source)
        column: list[str | None] = []
        for r in rows:
            raw = " ".join(r[index[c]].strip() for c in COLUMNS[f.name]).strip()
            try:
                column.append(norm(raw))
            except (MissingValue, InvalidValue):
                column.append(None)
        values[f.name] = column
    return Party([r[index["rec_id"]].strip() for r in rows], values)


def encode(
    party: Party, schema: Schema, hardening: Hardening, secret: LinkageSecret, seed: int
) -> npt.NDArray[np.uint64]:
    """Raw filters at their raw sizes, then ``apply_hardening`` into the schema's segments."""
    raw_segs, raw_bits = raw_layout(schema.segments, hardening)
    n = len(party.ids)
    bits = np.zeros((n, raw_bits), dtype=np.uint8)
    k_of: dict[str, int] = {}
    salt_field = hardening.salt.partition(":")[0] if hardening.salt else None
    for seg, raw in zip(schema.segments, raw_segs, strict=True):
        f = schema.field_named(seg.field)
        assert f.bloom is not None
        k = f.bloom.k if raw.bits == seg.bits else default_k(raw.bits, f.type)
        k_of[seg.field] = k
        feats = feature_function(f.type, f.bloom.q, f.bloom.padding)
        key = secret.derive("bloom", f.name)
        memo: dict[str, npt.NDArray[np.int64]] = {}
        for i, value in enumerate(party.values[f.name]):
            if value is None:
                continue
            features = feats(value)
            if salt_field:  # canonical date YYYY-MM-DD -> the year salts every feature
                features = salt_features(features, (party.values[salt_field][i] or "")[:4])
            for x in features:
                if x not in memo:
                    memo[x] = np.asarray(feature_positions(key, x, k, raw.bits), np.int64)
                bits[i, raw.start + memo[x]] = 1
    raw_clks = pack_bits(bits)
    if hardening.is_identity:
        return raw_clks
    keys = {s.field: secret.derive("harden", s.field) for s in schema.segments}
    row_tokens = np.random.default_rng(seed).integers(0, 256, (n, 16), dtype=np.uint8)
    return apply_hardening(
        raw_clks, schema.segments, hardening, keys=keys, row_tokens=row_tokens, bloom_k=k_of
    )


def dice_matrix(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> npt.NDArray[np.float32]:
    fa = unpack_bits(a).astype(np.float32)
    fb = unpack_bits(b).astype(np.float32)
    inter = fa @ fb.T
    pa, pb = fa.sum(axis=1), fb.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = 2 * inter / (pa[:, None] + pb[None, :])
    return np.nan_to_num(d).astype(np.float32)


def greedy_matches(
    d: npt.NDArray[np.float32], floor: float = 0.3
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32], float]:
    """Greedy best-first 1:1 assignment (matches in decreasing score order) and the
    automatic threshold: Otsu's split of the histogram of all pair scores >= 0.3 (what a
    coordinator sees without labels: many low non-match scores, one high match mode).

    Each row keeps its CANDIDATES best partners (what blocking would propose). Accepting
    the matches scoring >= t is exactly greedy run on the pairs >= t, so one pass serves
    every threshold.
    """
    auto = otsu(d[d >= 0.3])
    top = np.argpartition(-d, CANDIDATES, axis=1)[:, :CANDIDATES]  # each row's best few
    i = np.repeat(np.arange(d.shape[0]), CANDIDATES)
    j = top.ravel()
    s = d[i, j]
    keep = s >= floor
    i, j, s = i[keep], j[keep], s[keep]
    order = np.argsort(-s, kind="stable")
    used_i, used_j = np.zeros(d.shape[0], bool), np.zeros(d.shape[1], bool)
    out = []
    for o in order:
        a, b = i[o], j[o]
        if not used_i[a] and not used_j[b]:
            used_i[a] = used_j[b] = True
            out.append(o)
    sel = np.asarray(out, dtype=np.int64)
    return i[sel], j[sel], s[sel], auto


def otsu(scores: npt.NDArray[np.float32]) -> float:
    hist, edges = np.histogram(scores, bins=100, range=(0, 1))
    w = np.cumsum(hist)
    mu = np.cumsum(hist * edges[:-1])
    total, mu_t = w[-1], mu[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        between = (mu_t * w - mu * total) ** 2 / (w * (total - w))
    return float(edges[int(np.nanargmax(between)) + 1])


def evaluate(
    option: str, hardening: Hardening, a: Party, b: Party, schema: Schema, secret: LinkageSecret
) -> Row:
    t0 = time.perf_counter()
    ca = encode(a, schema, hardening, secret, seed=1)
    cb = encode(b, schema, hardening, secret, seed=2)
    i, j, s, t_auto = greedy_matches(dice_matrix(ca, cb))
    true_total = len({x.split("-")[1] for x in a.ids} & {x.split("-")[1] for x in b.ids})
    correct = np.fromiter(
        (a.ids[x].split("-")[1] == b.ids[y].split("-")[1] for x, y in zip(i, j, strict=True)),
        dtype=bool,
        count=len(i),
    )
    tp = np.cumsum(correct)
    accepted = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (accepted + true_total)
    best = int(np.argmax(f1))
    k_auto = int((s >= t_auto).sum())
    f1_auto = float(f1[k_auto - 1]) if k_auto else 0.0
    report = audit_clks(ca, schema.segments, truth={"given_name": a.values["given_name"]})
    gn = next(x for x in report.segments if x.field == "given_name")
    sn = next(x for x in report.segments if x.field == "surname")
    seg = next(x for x in schema.segments if x.field == "surname")
    pops = unpack_bits(ca)[:, seg.start : seg.start + seg.bits].sum(axis=1)
    known = [k for k, v in enumerate(a.values["surname"]) if v is not None]
    r, mi = length_leakage([len(a.values["surname"][k] or "") for k in known], pops[known])
    return Row(
        option,
        float(f1[best]),
        float(s[best]),
        f1_auto,
        t_auto,
        r,
        mi,
        max(x.bit_rate_cv for x in report.segments if x.rows),
        max(gn.frequent_share, sn.frequent_share),
        max(gn.near_share, sn.near_share),
        f"{gn.attack_aligned:.1f}/{gn.attack_top}",
        time.perf_counter() - t0,
    )


def _even_segments(schema: Schema) -> Schema:
    """The schema with every segment rounded to an even size (balance needs it).

    Odd segments take +1 and -1 bit in turn (the total is even, so they pair up); ``k``
    is kept. The example schema's weights resolve to odd sizes, which a balanced schema
    must avoid (see the guide).
    """
    fields, step = [], 1
    for f in schema.fields:
        if f.bloom is not None and f.bloom.bits % 2:
            f = replace(f, bloom=replace(f.bloom, bits=f.bloom.bits + step))
            step = -step
        fields.append(f)
    return replace(schema, fields=tuple(fields))


def markdown(rows: Sequence[Row], n: int, schema: Schema) -> str:
    head = (
        "| option | F1 (best t) | best t | F1 (auto t) | auto t | surname length r | "
        "length MI (bits) | bit-rate CV | rows in frequent patterns | near twins | "
        "attack on given names |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r.option} | {r.f1_best:.4f} | {r.threshold_best:.2f} | {r.f1_auto:.4f} | "
        f"{r.threshold_auto:.2f} | {r.length_corr:.2f} | {r.length_mi:.2f} | "
        f"{r.bit_rate_cv:.2f} | {r.frequent_share:.1%} | {r.near_share:.0%} | {r.attack} |\n"
        for r in rows
    )
    fields = ", ".join(f"{s.field} {s.bits}" for s in schema.segments)
    return f"FEBRL 4, {n} x {n} records, schema {schema.name!r} ({fields} bits).\n\n" + head + body


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--quick", action="store_true", help="600 records, 3 options")
    ap.add_argument("--schema", choices=sorted(SCHEMAS), default="full")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    limit = 600 if args.quick else None
    schema = _even_segments(load_schema(SCHEMAS[args.schema]))
    a = read_party(args.data / "dataset4a.csv", limit, schema)
    b = read_party(args.data / "dataset4b.csv", None, schema)
    if limit:  # keep the true partners of A's rows, so F1 stays meaningful
        wanted = {x.split("-")[1] for x in a.ids}
        keep = [k for k, x in enumerate(b.ids) if x.split("-")[1] in wanted]
        b = Party([b.ids[k] for k in keep], {f: [v[k] for k in keep] for f, v in b.values.items()})
    secret = LinkageSecret(bytes(range(32)))
    names = ["none", "balance", "recommended"] if args.quick else list(OPTIONS)
    rows = []
    for name in names:
        row = evaluate(name, OPTIONS[name], a, b, schema, secret)
        rows.append(row)
        print(
            f"{name:14s} F1 best {row.f1_best:.4f} auto {row.f1_auto:.4f} ({row.seconds:.1f}s)",
            file=sys.stderr,
        )
    table = markdown(rows, len(a.ids), schema)
    print(table)
    if args.markdown:
        args.markdown.write_text(table, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
