"""Validate a raw schema document and resolve it into the frozen :class:`Schema`.

Validation never stops at the first mistake: every problem is collected with its key
path (``fields[2].bloom.q``) and a message naming what would be valid ("expected an
integer 1-5, got 7"), then one :class:`~hashmatch.errors.SchemaError` lists them all.
Schema documents hold no PII, so messages may quote the offending setting.

Resolution fills every default (normaliser options, q, padding, k) and turns weights into
segment bits (see :func:`hashmatch.schema.defaults.allocate_bits`), so the resolved schema
is complete and its fingerprint does not depend on how the document was spelled.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hashmatch.errors import Problem, SchemaError
from hashmatch.schema import defaults as d
from hashmatch.schema.hardening import (
    Hardening,
    hardening_problems,
    raw_segment_bits,
    salt_problems,
)
from hashmatch.schema.model import (
    FIELD_TYPES,
    PART_TRANSFORMS,
    BloomEncoding,
    ColumnSource,
    Field,
    MatchKey,
    MatchKeyPart,
    Schema,
    Segment,
)

TOP_KEYS = ("version", "name", "clk", "fields", "match_keys", "hardening")
CLK_KEYS = ("bits",)
FIELD_KEYS = (
    "name", "type", "normalize", "bloom", "exact", "required", "stable", "swaps_with", "salt"
)
BLOOM_KEYS = ("bits", "k", "q", "padding", "weight")
MATCH_KEY_KEYS = ("name", "parts", "purpose")
PURPOSES = ("match", "block")


def describe(value: Any) -> str:
    """Show a schema setting in a message: short scalars quoted, containers by kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a string of {len(value)} characters"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return "null" if value is None else type(value).__name__


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid choice nearest to a misspelt ``word``, if any is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def one_of(choices: Iterable[str]) -> str:
    return ", ".join(choices)


class Checker:
    """Collects problems while reading typed values out of a document (also used by mapping)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def unknown_keys(self, table: Mapping[str, Any], allowed: Iterable[str], path: str) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key in allowed:
                continue
            guess = closest(str(key), allowed)
            hint = f"did you mean {guess!r}?" if guess else f"expected one of {one_of(allowed)}"
            self.add(join(path, str(key)), f"unknown key; {hint}")

    def table(self, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = parent.get(key, {})
        if isinstance(value, Mapping):
            return value
        self.add(join(path, key), f"expected a table, got {describe(value)}")
        return {}

    def integer(
        self,
        parent: Mapping[str, Any],
        key: str,
        path: str,
        lo: int,
        hi: int,
        default: int | None = None,
        *,
        step: int = 1,
    ) -> int | None:
        value = parent.get(key, default)
        if value is None:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and lo <= value <= hi and value % step == 0:
            return int(value)
        what = f"a multiple of {step} in" if step > 1 else "an integer"
        self.add(join(path, key), f"expected {what} {lo}-{hi}, got {describe(value)}")
        return None

    def number(
        self, parent: Mapping[str, Any], key: str, path: str, hi: float, default: float
    ) -> float | None:
        value = parent.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and math.isfinite(value) and 0 < value <= hi:
            return float(value)
        self.add(join(path, key), f"expected a number > 0 and <= {hi:g}, got {describe(value)}")
        return None

    def boolean(self, parent: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = parent.get(key, default)
        if isinstance(value, bool):
            return value
        self.add(join(path, key), f"expected true or false, got {describe(value)}")
        return default

    def string(self, parent: Mapping[str, Any], key: str, path: str, default: str) -> str:
        value = parent.get(key, default)
        if isinstance(value, str):
            return value
        self.add(join(path, key), f"expected a string, got {describe(value)}")
        return default

    def choice(
        self, value: Any, choices: tuple[str, ...], path: str, what: str = "one of"
    ) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        guess = closest(value, choices) if isinstance(value, str) else None
        tip = f" (did you mean {guess!r}?)" if guess else ""
        self.add(path, f"expected {what} {one_of(choices)}, got {describe(value)}{tip}")
        return None

    def identifier(self, value: Any, path: str, example: str) -> str | None:
        if isinstance(value, str) and d.NAME_PATTERN.fullmatch(value):
            return value
        self.add(
            path,
            f"expected a lower-case name [a-z][a-z0-9_]* such as {example!r}, "
            f"got {describe(value)}",
        )
        return None

    def raise_if_any(self, source: str | None, error: type[SchemaError] = SchemaError) -> None:
        if self.problems:
            raise error(self.problems, source=source)


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class _BloomRequest:
    """A bloom encoding as written, before its segment size is resolved."""

    path: str
    bits: int | None
    weight: float
    k: int | None
    q: int
    padding: bool


@dataclass
class _FieldDraft:
    path: str
    name: str | None
    type: str | None
    normalize: dict[str, Any]
    bloom: _BloomRequest | None
    exact: bool
    required: bool
    stable: bool
    swaps_with: str | None
    salt: str | None = None


def build_schema(doc: Mapping[str, Any], *, source: str | None = None) -> Schema:
    """Validate a current-version document and return the resolved :class:`Schema`.

    Raises
    ------
    SchemaError
        Listing every problem found, each with its key path.
    """
    c = Checker()
    c.unknown_keys(doc, TOP_KEYS, "")
    label = c.string(doc, "name", "", "")
    clk = c.table(doc, "clk", "")
    c.unknown_keys(clk, CLK_KEYS, "clk")
    clk_bits = c.integer(
        clk,
        "bits",
        "clk",
        d.CLK_BITS_MIN,
        d.CLK_BITS_MAX,
        d.DEFAULT_CLK_BITS,
        step=d.CLK_BITS_STEP,
    )

    drafts = [_field(c, raw, f"fields[{i}]") for i, raw in _items(c, doc, "fields")]
    _check_unique_names(c, drafts)
    hardening = _hardening(c, doc, drafts)
    blooms = _resolve_bloom(c, clk_bits, drafts, hardening)
    if hardening is not None and "hardening" in doc:
        # Segment sizes are only known now; every other hardening key passed already.
        c.problems += hardening_problems(doc["hardening"], segments=_segments(drafts, blooms))
    _check_swaps(c, drafts, blooms)
    _check_field_salts(c, drafts, blooms, hardening)
    field_types = {f.name: f.type for f in drafts if f.name}
    named_keys = {
        f"match_keys[{i}]": _match_key(c, raw, f"match_keys[{i}]", field_types)
        for i, raw in _items(c, doc, "match_keys", required=False)
    }
    _check_unique_keys(c, {path: name for path, (name, _) in named_keys.items()}, field_types)
    keys = {path: key for path, (_, key) in named_keys.items()}

    has_field_encoding = any(f.bloom or f.exact for f in drafts)
    if (
        not c.problems
        and not has_field_encoding
        and not any(k and k.purpose == "match" for k in keys.values())
    ):
        c.add(
            "fields",
            "no encoding: expected at least one field with bloom or exact = true "
            "(or a match key with purpose = 'match')",
        )
    c.raise_if_any(source)
    assert clk_bits is not None  # guaranteed once there are no problems
    fields = tuple(
        Field(
            name=f.name or "",
            type=f.type or "",
            normalize=f.normalize,
            bloom=blooms.get(i),
            exact=f.exact,
            required=f.required,
            stable=f.stable,
            swaps_with=f.swaps_with,
            salt=f.salt,
        )
        for i, f in enumerate(drafts)
    )
    return Schema(
        version=int(doc["version"]),
        clk_bits=clk_bits,
        fields=fields,
        match_keys=tuple(k for k in keys.values() if k is not None),
        name=label,
        hardening=hardening or Hardening(),
    )


def _check_swaps(
    c: Checker,
    drafts: list[_FieldDraft],
    blooms: Mapping[int, BloomEncoding],
) -> None:
    """``swaps_with``: two distinct bloom fields of one type whose filters are built alike
    (bits, k, q, padding), each in at most one pair. Hardening keeps them comparable: the
    encoder permutes (and pads) both segments under the pair's key (encode/harden.py)."""
    index = {f.name: i for i, f in enumerate(drafts) if f.name}
    paired: dict[str, str] = {}
    for i, f in enumerate(drafts):
        if f.swaps_with is None:
            continue
        path = join(f.path, "swaps_with")
        j = index.get(f.swaps_with)
        if j is None or j == i:
            others = [n for n in index if n != f.name]
            c.add(path, f"expected the name of another field, one of {others}, "
                        f"got {f.swaps_with!r}")
            continue
        for name in (f.name, f.swaps_with):
            if name in paired:
                c.add(path, f"field {name!r} is already in a swap pair with {paired[name]!r}")
        other = drafts[j]
        paired[f.name or ""], paired[other.name or ""] = other.name or "", f.name or ""
        if f.type != other.type:
            c.add(path, f"swapped fields must have one type, got {f.type!r} and {other.type!r}")
        a, b = blooms.get(i), blooms.get(j)
        if a is None or b is None:
            c.add(path, "both fields need a bloom encoding (their filters are compared)")
        elif (a.bits, a.k, a.q, a.padding) != (b.bits, b.k, b.q, b.padding):
            c.add(path, f"both fields' filters must be built alike, got bits/k/q/padding "
                        f"{a.bits}/{a.k}/{a.q}/{a.padding} and {b.bits}/{b.k}/{b.q}/{b.padding}"
                        f"; {_alike_fix(f, other)}")


def _check_field_salts(
    c: Checker,
    drafts: list[_FieldDraft],
    blooms: Mapping[int, BloomEncoding],
    hardening: Hardening | None,
) -> None:
    """A field's ``salt``: ``hardening.salt``'s syntax, naming another field; only on a
    Bloom field, not beside a global salt, and the same on both fields of a swap pair
    (their filters are compared with each other). Messages name the salted field."""
    names = [f.name for f in drafts if f.name]
    salts = {f.name: f.salt for f in drafts if f.name}
    for i, f in enumerate(drafts):
        if f.salt is None:
            continue
        path = join(f.path, "salt")
        who = f"field {f.name!r}" if f.name else "this field"
        problems = salt_problems(f.salt, path, names)
        for p in problems:
            c.add(p.path, f"{who}: {p.message}")
        if problems:
            continue
        if f.salt.partition(":")[0] == f.name:
            c.add(path, f"{who}: a field cannot be salted with its own value")
        if blooms.get(i) is None and f.bloom is None:
            c.add(path, f"{who}: salt needs a bloom encoding (it salts the Bloom features)")
        if hardening is not None and hardening.salt is not None:
            c.add(path, f"{who}: hardening.salt already salts every Bloom field; "
                        "remove one of the two")
        partner = f.swaps_with
        if partner in salts and salts[partner] != f.salt:
            c.add(path, f"{who}: its swap partner {partner!r} must have the same salt "
                        "(their filters are compared with each other)")
    for f in drafts:  # a partner declaring no swaps_with, but salted differently
        partner = f.swaps_with
        if f.salt is None and partner in salts and salts[partner] is not None:
            c.add(join(f.path, "salt"), f"field {f.name!r}: its swap partner {partner!r} "
                  "is salted; give both the same salt")


def _alike_fix(a: _FieldDraft, b: _FieldDraft) -> str:
    """What to change so that a swap pair's two filters come out alike."""
    ra, rb = a.bloom, b.bloom
    if ra is not None and rb is not None and (ra.k, ra.q, ra.padding) != (rb.k, rb.q, rb.padding):
        return "give both the same k, q and padding"
    if ra is not None and rb is not None and ra.bits is None and rb.bits is None:
        if ra.weight == rb.weight:
            return "the CLK's bits do not split evenly between them: give both the same bits"
        return "give them the same weight (or the same bits)"
    return "give both the same bits"


def _items(
    c: Checker, doc: Mapping[str, Any], key: str, *, required: bool = True
) -> list[tuple[int, Mapping[str, Any]]]:
    """The tables of an array of tables (``[[fields]]``), reporting non-tables."""
    value = doc.get(key)
    if value is None or (isinstance(value, list) and not value):
        if required:
            c.add(key, "missing; expected at least one [[fields]] table")
        return []
    if not isinstance(value, list):
        c.add(key, f"expected a list of tables ([[{key}]]), got {describe(value)}")
        return []
    out = []
    for i, item in enumerate(value):
        if isinstance(item, Mapping):
            out.append((i, item))
        else:
            c.add(f"{key}[{i}]", f"expected a table, got {describe(item)}")
    return out


def _field(c: Checker, raw: Mapping[str, Any], path: str) -> _FieldDraft:
    c.unknown_keys(raw, FIELD_KEYS, path)
    name = c.identifier(raw.get("name"), join(path, "name"), "first_name")
    ftype = c.choice(raw.get("type"), FIELD_TYPES, join(path, "type"))
    normalize = _normalize_options(c, raw, path, ftype)
    bloom = _bloom(c, raw.get("bloom", False), join(path, "bloom"))
    stable = c.boolean(raw, "stable", path, False)
    if stable and raw.get("bloom", False) is False:
        c.add(
            join(path, "stable"),
            "stable = true needs a bloom encoding: a disagreement is judged on the field's "
            "Bloom filter (add bloom = true or remove stable)",
        )
    return _FieldDraft(
        path=path,
        name=name,
        type=ftype,
        normalize=normalize,
        bloom=bloom,
        exact=c.boolean(raw, "exact", path, False),
        required=c.boolean(raw, "required", path, False),
        stable=stable,
        swaps_with=c.string(raw, "swaps_with", path, "") or None,
        salt=raw.get("salt"),
    )


def _normalize_options(
    c: Checker, raw: Mapping[str, Any], path: str, ftype: str | None
) -> dict[str, Any]:
    options = c.table(raw, "normalize", path)
    if ftype is None:
        return {}
    specs = d.option_specs().get(ftype, {})
    opath = join(path, "normalize")
    if options and not specs:
        c.add(opath, f"type {ftype!r} has no normaliser options; remove this table")
        return {}
    before = len(c.problems)
    c.unknown_keys(options, specs, opath)
    out: dict[str, Any] = {}
    for option, spec in specs.items():
        value = options.get(option, spec.default)
        out[option] = value
        kind = spec.kind.__name__
        if not _is_kind(value, kind):
            c.add(
                join(opath, option),
                f"expected {_KIND_NAMES.get(kind, kind)}, got {describe(value)}",
            )
        elif kind == "float":
            out[option] = float(value)
    if options and len(c.problems) == before:
        problem = _normaliser_refuses(ftype, out)
        if problem:
            c.add(opath, problem)
    return out


def _normaliser_refuses(ftype: str, options: Mapping[str, Any]) -> str | None:
    """Let the normaliser judge option *values* (date bounds, postcode countries...).

    It raises ValueError for a value it cannot use; asking it keeps a single source of
    truth for what is valid.
    """
    from hashmatch.normalize import make_normalizer

    try:
        make_normalizer(ftype, options, ColumnSource(("column",)))
    except ValueError as exc:
        return str(exc)
    return None


_KIND_NAMES = {"bool": "true or false", "str": "a string", "int": "an integer", "float": "a number"}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    return True  # a kind this loader does not know: the normaliser judges the value


def _bloom(c: Checker, value: Any, path: str) -> _BloomRequest | None:
    if value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, Mapping):
        c.add(
            path,
            f"expected true, false or a table such as {{ weight = 1.0, q = 2 }}, "
            f"got {describe(value)}",
        )
        return None
    c.unknown_keys(value, BLOOM_KEYS, path)
    bits = c.integer(value, "bits", path, d.SEGMENT_BITS_MIN, d.CLK_BITS_MAX)
    if "bits" in value and "weight" in value:
        c.add(
            join(path, "weight"),
            "expected either bits or weight, not both (explicit bits ignore the weight)",
        )
    return _BloomRequest(
        path=path,
        bits=bits,
        weight=c.number(value, "weight", path, d.WEIGHT_MAX, d.DEFAULT_WEIGHT) or 1.0,
        k=c.integer(value, "k", path, d.K_MIN, d.K_MAX),
        q=c.integer(value, "q", path, d.Q_MIN, d.Q_MAX, d.DEFAULT_Q) or d.DEFAULT_Q,
        padding=c.boolean(value, "padding", path, d.DEFAULT_PADDING),
    )


def _check_unique_names(c: Checker, drafts: list[_FieldDraft]) -> None:
    seen: dict[str, str] = {}
    for f in drafts:
        if f.name is None:
            continue
        if f.name in seen:
            c.add(
                join(f.path, "name"),
                f"duplicate field name {f.name!r} (already {seen[f.name]}); expected unique names",
            )
        else:
            seen[f.name] = f.path


def _hardening(c: Checker, doc: Mapping[str, Any], drafts: list[_FieldDraft]) -> Hardening | None:
    """The ``hardening`` setting (default none); None when it has problems (reported)."""
    if "hardening" not in doc:
        return Hardening()
    names = [f.name for f in drafts if f.name]
    problems = hardening_problems(doc["hardening"], field_names=names)
    if problems:
        c.problems += problems
        return None
    return Hardening.from_dict(doc["hardening"], field_names=names)


def _segments(drafts: list[_FieldDraft], blooms: Mapping[int, BloomEncoding]) -> list[Segment]:
    out, start = [], 0
    for i, f in enumerate(drafts):
        if i in blooms:
            out.append(Segment(f.name or "", start, blooms[i].bits))
            start += blooms[i].bits
    return out


def _resolve_bloom(
    c: Checker,
    clk_bits: int | None,
    drafts: list[_FieldDraft],
    hardening: Hardening | None = None,
) -> dict[int, BloomEncoding]:
    """Resolve segment bits and k for every bloom field (index -> encoding).

    Under ``balance`` shared segments get even sizes; the default ``k`` is resolved for
    the raw filter the encoder builds (``raw_segment_bits``: twice the segment with
    XOR folding, half with balancing), so every option starts from a normal fill.
    """
    h = hardening or Hardening()
    bloom_idx = [i for i, f in enumerate(drafts) if f.bloom is not None]
    requests = [drafts[i].bloom for i in bloom_idx]
    if clk_bits is None or not requests:
        return {}
    reqs = [r for r in requests if r is not None]
    too_big = [r for r in reqs if r.bits is not None and r.bits > clk_bits]
    for r in too_big:
        c.add(join(r.path, "bits"), f"expected at most clk.bits = {clk_bits}, got {r.bits}")
    if too_big:
        return {}
    explicit = sum(r.bits for r in reqs if r.bits is not None)
    shared = [r for r in reqs if r.bits is None]
    if explicit > clk_bits:
        c.add(
            "clk.bits",
            f"explicit bloom bits sum to {explicit}, more than clk.bits = "
            f"{clk_bits}; expected clk.bits >= {explicit} or smaller bits",
        )
        return {}
    if not shared and explicit != clk_bits:
        c.add(
            "clk.bits",
            f"explicit bloom bits sum to {explicit} but clk.bits = {clk_bits}; "
            "expected them to fill the CLK exactly (or leave one field's bits unset)",
        )
        return {}
    position = {drafts[i].name: k for k, i in enumerate(bloom_idx) if drafts[i].name}
    alike = [
        (position[drafts[i].name or ""], position[drafts[i].swaps_with or ""])
        for i in bloom_idx
        if drafts[i].swaps_with in position and drafts[i].name in position
    ]
    sizes = d.allocate_bits(
        clk_bits,
        [r.bits for r in reqs],
        [r.weight for r in reqs],
        unit=2 if h.balance else 1,
        alike=alike,
    )
    out: dict[int, BloomEncoding] = {}
    for i, r, bits in zip(bloom_idx, reqs, sizes, strict=True):
        if bits < d.SEGMENT_BITS_MIN:
            c.add(
                r.path,
                f"gets only {bits} of the CLK's {clk_bits} bits; expected at least "
                f"{d.SEGMENT_BITS_MIN}: raise its weight, lower other fields' bits or "
                "raise clk.bits",
            )
            continue
        ftype = drafts[i].type
        if ftype is None:
            continue
        raw_bits = raw_segment_bits(bits - bits % 2 if h.balance else bits, h)
        k = r.k if r.k is not None else d.default_k(raw_bits, ftype)
        out[i] = BloomEncoding(bits=bits, k=k, q=r.q, padding=r.padding)
    return out


def _match_key(
    c: Checker, raw: Mapping[str, Any], path: str, field_types: Mapping[str, str | None]
) -> tuple[str | None, MatchKey | None]:
    """The key's name (if valid, for the uniqueness check) and the key (if all valid)."""
    c.unknown_keys(raw, MATCH_KEY_KEYS, path)
    name = c.identifier(raw.get("name"), join(path, "name"), "surname_dob")
    purpose = c.choice(raw.get("purpose", "match"), PURPOSES, join(path, "purpose"))
    parts_raw = raw.get("parts")
    ppath = join(path, "parts")
    if not isinstance(parts_raw, list) or not parts_raw:
        c.add(
            ppath,
            "expected a non-empty list such as ['last_name', 'date_of_birth:year'], "
            f"got {describe(parts_raw)}",
        )
        return name, None
    parts = [_part(c, p, f"{ppath}[{j}]", field_types) for j, p in enumerate(parts_raw)]
    if name is None or purpose is None or any(p is None for p in parts):
        return name, None
    key = MatchKey(
        name=name,
        parts=tuple(p for p in parts if p is not None),
        purpose=purpose,  # type: ignore[arg-type]
    )
    return name, key


def _part(
    c: Checker, raw: Any, path: str, field_types: Mapping[str, str | None]
) -> MatchKeyPart | None:
    if not isinstance(raw, str):
        c.add(path, f"expected 'field' or 'field:transform', got {describe(raw)}")
        return None
    fname, _, transform = raw.partition(":")
    if fname not in field_types:
        guess = closest(fname, field_types)
        tip = f"did you mean {guess!r}?" if guess else f"expected one of {one_of(field_types)}"
        c.add(path, f"unknown field {fname!r}; {tip}")
        return None
    if not transform:
        return MatchKeyPart(fname)
    if c.choice(transform, PART_TRANSFORMS, path, "a transform among") is None:
        return None
    ftype = field_types[fname]
    allowed = d.TRANSFORM_TYPES[transform]
    fits = ftype in allowed if allowed is not None else ftype != "date"
    if ftype is not None and not fits:
        where = (
            f"{one_of(sorted(allowed))} fields"
            if allowed is not None
            else "fields of any type but date"
        )
        c.add(
            path, f"transform {transform!r} applies to {where}; field {fname!r} has type {ftype!r}"
        )
        return None
    return MatchKeyPart(fname, transform)


def _check_unique_keys(
    c: Checker, names: Mapping[str, str | None], field_types: Mapping[str, str | None]
) -> None:
    seen: set[str] = set()
    for kpath, name in names.items():
        if name is None:
            continue
        path = join(kpath, "name")
        if name in field_types:
            c.add(
                path,
                f"{name!r} is also a field name; expected a distinct name "
                "(exact tokens of fields and match keys share one namespace)",
            )
        elif name in seen:
            c.add(path, f"duplicate match key name {name!r}; expected unique names")
        seen.add(name)
