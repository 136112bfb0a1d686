"""The ``hardening`` options of a linkage schema: parse, validate, and size the raw filters.

Hardening is chosen in the schema (and covered by its fingerprint), so every party applies
the same transforms. This module holds the options themselves (:class:`Hardening`, the
named profiles), their collect-all validation and the raw Bloom-filter sizes they imply;
the schema loader needs all three to resolve segment bits and ``k``. The transforms live
in :mod:`hashmatch.encode.harden`, which re-exports these names. Kept free of
``hashmatch.encode`` imports: the encoder package imports the schema package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hashmatch._types import Segment
from hashmatch.errors import Problem, SchemaError
from hashmatch.schema.vocabulary import PART_TRANSFORMS

#: Largest epsilon accepted: above it the noise no longer matters (p < 0.002 at k = 10).
MAX_BLIP_EPSILON = 64.0


@dataclass(frozen=True)
class Hardening:
    """The hardening options of a schema (the ``[hardening]`` table).

    ``permute``: keyed permutation of bit positions within each segment.
    ``balance``: balanced Bloom filter (filter ++ complement, permuted): constant popcount.
    ``xor_fold``: XOR the two halves of a filter twice the segment size.
    ``rule90``: replace each bit by the XOR of its two cyclic neighbours.
    ``blip_epsilon``: BLIP randomised response with this per-field epsilon (None = off).
    ``pad_fill``: pad each present segment with keyed dummy bits up to this fill (None = off).
    ``salt``: ``"field"`` or ``"field:transform"`` whose value salts every feature (None = off).
    The encoder passes that field's canonical value through the transform (as a match-key
    part does), ``""`` when missing, to :func:`salt_features` for every Bloom field.
    ``even``: even fill: each value's ``k`` scales with its feature count, so every value
    sets about as many bits whatever its length (``hashmatch.encode.bloom.even_k``).
    ``blip_flip``: BLIP with this flip probability for every field (``blip = { flip =
    p }``), instead of one derived from a per-field epsilon.
    ``blip_fields``: the fields BLIP applies to (``blip = { flip = p, fields = [...] }``);
    None: every field. Noise is what stops a frequency attack on values many people
    share (first names, surnames, birth dates); identifier fields (e-mail, phone,
    address) rarely repeat and link better without it.
    """

    permute: bool = False
    balance: bool = False
    xor_fold: bool = False
    rule90: bool = False
    blip_epsilon: float | None = None
    pad_fill: float | None = None
    salt: str | None = None
    even: bool = False
    blip_flip: float | None = None
    blip_fields: tuple[str, ...] | None = None

    def blip_on(self, field: str) -> bool:
        """True when BLIP noise applies to ``field``'s segment."""
        noisy = self.blip_epsilon is not None or self.blip_flip is not None
        return noisy and (self.blip_fields is None or field in self.blip_fields)

    @property
    def is_identity(self) -> bool:
        """True when no bit transform is configured (salting and even fill act on how the
        filters are built, not on their bits)."""
        return not (
            self.permute
            or self.balance
            or self.xor_fold
            or self.rule90
            or self.blip_epsilon is not None
            or self.blip_flip is not None
            or self.pad_fill is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """Canonical document form, for the schema fingerprint: every key present, except
        ``even`` when off (so that schemas written before it existed keep their
        fingerprints) and the BLIP parameter that is not used."""
        blip: dict[str, Any] | None = None
        if self.blip_epsilon is not None:
            blip = {"epsilon": self.blip_epsilon}
        elif self.blip_flip is not None:
            blip = {"flip": self.blip_flip}
        if blip is not None and self.blip_fields is not None:
            blip["fields"] = list(self.blip_fields)  # only when given: old fingerprints hold
        out: dict[str, Any] = {
            "permute": self.permute,
            "balance": self.balance,
            "xor_fold": self.xor_fold,
            "rule90": self.rule90,
            "blip": blip,
            "pad": None if self.pad_fill is None else {"fill": self.pad_fill},
            "salt": self.salt,
        }
        if self.even:
            out["even"] = True
        return out

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any] | str,
        *,
        path: str = "hardening",
        field_names: Sequence[str] | None = None,
        segments: Sequence[Segment] | None = None,
    ) -> Hardening:
        """Parse a ``[hardening]`` table (or ``"recommended"`` / ``"none"``).

        Raises
        ------
        SchemaError
            Listing every problem (see :func:`hardening_problems`).
        """
        problems = hardening_problems(doc, path=path, field_names=field_names, segments=segments)
        if problems:
            raise SchemaError(problems)
        if isinstance(doc, str):
            return PROFILES[doc]
        blip, pad = doc.get("blip"), doc.get("pad")
        return cls(
            permute=bool(doc.get("permute", False)),
            balance=bool(doc.get("balance", False)),
            xor_fold=bool(doc.get("xor_fold", False)),
            rule90=bool(doc.get("rule90", False)),
            blip_epsilon=None if blip is None or "epsilon" not in blip else float(blip["epsilon"]),
            pad_fill=None if pad is None else float(pad["fill"]),
            salt=doc.get("salt"),
            even=bool(doc.get("even", False)),
            blip_flip=None if blip is None or "flip" not in blip else float(blip["flip"]),
            blip_fields=None if blip is None or "fields" not in blip else tuple(blip["fields"]),
        )


#: The recommended profile, chosen by end-to-end measurement (benchmarks/hardening.py;
#: table and commands in docs/guides/hardening.md): even fill hides value length (popcount
#: spread std/mean ~0.05 instead of ~0.2) and the keyed permutation hides which positions
#: belong to which feature, at no F1 cost on the demo, synth 4-party and FEBRL 4 data.
#: It does not stop a frequency attack on frequent values (common first names): only
#: noise does (``blip = { flip = 0.045 }``), at a cost the scorer does not absorb yet.
RECOMMENDED = Hardening(permute=True, even=True)
#: What ``"recommended"`` meant in hashmatch <= 0.1 (files made with it say so in their
#: header): name it to encode new files that link with those.
RECOMMENDED_V1 = Hardening(permute=True, balance=True, blip_epsilon=25.0)
PROFILES: Mapping[str, Hardening] = {
    "recommended": RECOMMENDED,
    "recommended-v1": RECOMMENDED_V1,
    "none": Hardening(),
}

_BOOL_KEYS = ("permute", "balance", "xor_fold", "rule90", "even")
_KEYS = (*_BOOL_KEYS, "blip", "pad", "salt")
#: Largest flip probability accepted (0.5 would be pure noise).
MAX_BLIP_FLIP = 0.25


def hardening_problems(
    doc: Any,
    *,
    path: str = "hardening",
    field_names: Sequence[str] | None = None,
    segments: Sequence[Segment] | None = None,
) -> list[Problem]:
    """Every problem in a ``[hardening]`` document, each with its key path; never raises.

    With ``field_names`` the salt field is checked to exist; with ``segments`` each
    segment's size is checked against the options (balance needs an even size).
    """
    if isinstance(doc, str):
        if doc in PROFILES:
            return []
        return [Problem(path, f"expected a table or one of {', '.join(PROFILES)}, got {doc!r}")]
    if not isinstance(doc, Mapping):
        return [Problem(path, f"expected a table, got {type(doc).__name__}")]
    out: list[Problem] = []
    for key in doc:
        if key not in _KEYS:
            out.append(Problem(f"{path}.{key}", f"unknown key; expected one of {', '.join(_KEYS)}"))
    for key in _BOOL_KEYS:
        if key in doc and not isinstance(doc[key], bool):
            out.append(Problem(f"{path}.{key}", "expected true or false"))
    out += _blip_problems(doc.get("blip"), f"{path}.blip", even=doc.get("even") is True,
                          field_names=field_names)
    out += _sub_number(doc, "pad", "fill", path, 0.0, 0.5)
    if doc.get("pad") is not None and doc.get("balance") is True:
        out.append(
            Problem(f"{path}.pad", "redundant with balance = true (already constant popcount)")
        )
    if doc.get("pad") is not None and doc.get("blip") is not None:
        out.append(
            Problem(f"{path}.pad", "cannot be combined with blip (it voids the stated epsilon)")
        )
    salt = doc.get("salt")
    if salt is not None:
        out += salt_problems(salt, f"{path}.salt", field_names)
    if segments is not None:
        balance, fold = doc.get("balance") is True, doc.get("xor_fold") is True
        for s in segments:
            if balance and s.bits % 2:
                out.append(
                    Problem(
                        f"{path}.balance",
                        f"segment {s.field!r} has {s.bits} bits; balance needs an even size",
                    )
                )
            if (balance or fold) and s.bits < 8:
                out.append(Problem(f"{path}", f"segment {s.field!r} is too small to harden"))
    return out


def _sub_number(
    doc: Mapping[str, Any], key: str, sub: str, path: str, lo: float, hi: float
) -> list[Problem]:
    table = doc.get(key)
    if table is None:
        return []
    if not isinstance(table, Mapping):
        return [Problem(f"{path}.{key}", f"expected a table like {{ {sub} = ... }}")]
    extra = [
        Problem(f"{path}.{key}.{k}", f"unknown key; expected {sub}") for k in table if k != sub
    ]
    value = table.get(sub)
    if not (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and lo < value <= hi
    ):
        extra.append(Problem(f"{path}.{key}.{sub}", f"expected a number > {lo:g} and <= {hi:g}"))
    return extra


def _blip_problems(blip: Any, path: str, *, even: bool,
                   field_names: Sequence[str] | None = None) -> list[Problem]:
    """``blip = { epsilon = e }`` or ``{ flip = p }``, exactly one; with ``even``, flip;
    optionally ``fields = [...]``, distinct names of the schema's fields."""
    if blip is None:
        return []
    if not isinstance(blip, Mapping):
        return [Problem(path, "expected a table like { flip = 0.045 } or { epsilon = 25 }")]
    given = [k for k in ("epsilon", "flip") if k in blip]
    out = [Problem(f"{path}.{k}", "unknown key; expected epsilon, flip or fields")
           for k in blip if k not in ("epsilon", "flip", "fields")]
    if "fields" in blip:
        out += _blip_field_problems(blip["fields"], f"{path}.fields", field_names)
    if len(given) != 1:
        return [*out, Problem(path, "expected exactly one of epsilon or flip")]
    key = given[0]
    hi = MAX_BLIP_EPSILON if key == "epsilon" else MAX_BLIP_FLIP
    out += _sub_number({"blip": {key: blip[key]}}, "blip", key, path.rpartition(".")[0], 0.0, hi)
    if even and key == "epsilon":
        out.append(
            Problem(f"{path}.epsilon", "with even = true, give the noise as flip = p (a "
                    "value's k varies, so a per-field epsilon has no fixed sensitivity)")
        )
    return out


def _blip_field_problems(fields: Any, path: str,
                         field_names: Sequence[str] | None) -> list[Problem]:
    if (not isinstance(fields, list) or not fields
            or not all(isinstance(f, str) and f for f in fields)):
        return [Problem(path, 'expected a non-empty list of field names, like ["first_name"]')]
    out = []
    if len(set(fields)) != len(fields):
        out.append(Problem(path, "lists a field more than once"))
    if field_names is not None:
        out += [Problem(path, f"no field named {f!r} in the schema")
                for f in fields if f not in field_names]
    return out


def salt_problems(salt: Any, path: str, field_names: Sequence[str] | None) -> list[Problem]:
    """Problems of a salt setting (``hardening.salt`` or a field's ``salt``): ``"field"``
    or ``"field:transform"``, the field in ``field_names`` (when given)."""
    if not isinstance(salt, str) or not salt:
        return [Problem(path, 'expected "field" or "field:transform"')]
    field, _, transform = salt.partition(":")
    out = []
    if field_names is not None and field not in field_names:
        out.append(Problem(path, f"no field named {field!r} in the schema"))
    if transform and transform not in PART_TRANSFORMS:
        out.append(
            Problem(path, f"unknown transform; expected one of {', '.join(PART_TRANSFORMS)}")
        )
    return out


# -- sizes -------------------------------------------------------------------------------


def raw_segment_bits(bits: int, hardening: Hardening) -> int:
    """How many raw Bloom-filter bits a segment of ``bits`` needs before fold/balance.

    XOR folding halves the filter (raw = 2 x segment); balancing doubles it (raw = segment
    / 2); both together cancel. Build the raw filter at this size, with the field's ``k``.

    >>> raw_segment_bits(256, Hardening(balance=True))
    128
    >>> raw_segment_bits(256, Hardening(xor_fold=True))
    512
    """
    raw = bits * 2 if hardening.xor_fold else bits
    if hardening.balance:
        if raw % 2:
            msg = f"balance needs an even segment size, got {bits}"
            raise ValueError(msg)
        raw //= 2
    return raw


def raw_layout(
    segments: Sequence[Segment], hardening: Hardening
) -> tuple[tuple[Segment, ...], int]:
    """The raw CLK layout ``apply_hardening`` expects: raw segments and raw CLK bits.

    Raw segments sit back to back in the same order; the raw CLK is padded to whole words.
    """
    out, start = [], 0
    for s in segments:
        bits = raw_segment_bits(s.bits, hardening)
        out.append(Segment(s.field, start, bits))
        start += bits
    return tuple(out), -(-start // 64) * 64


def profile_name(hardening: Hardening) -> str:
    """``"recommended"`` / ``"none"`` for a named profile, else ``"custom"``.

    >>> profile_name(RECOMMENDED), profile_name(Hardening(permute=True))
    ('recommended', 'custom')
    """
    return next((name for name, h in PROFILES.items() if h == hardening), "custom")


def header_extra(hardening: Hardening) -> dict[str, Any]:
    """What an encoding file's header ``extra`` records about hardening (``{}`` for none).

    The schema fingerprint already covers the options; this makes them readable
    (``hashmatch inspect``) without the schema file.

    >>> header_extra(RECOMMENDED)["hardening"]["profile"], header_extra(Hardening())
    ('recommended', {})
    """
    if hardening == Hardening():
        return {}
    return {"hardening": {"profile": profile_name(hardening), "options": hardening.to_dict()}}
