"""Keyed encodings of normalised PII: the party-side encoder.

Canonical values become (1) a record-level CLK, the concatenation of one keyed Bloom
filter segment per field, (2) keyed exact tokens per field and per match key, and (3) a
validity bit per field. Keys come from the linkage secret through HKDF; nothing is
encoded without a key, so an encoding is useless to anyone who lacks the secret.

Public API: :class:`LinkageSecret`, :func:`encode_file` (CSV -> ``.hme`` + lookup +
rejects, streaming), :func:`encode_records` (DataFrame / dicts / CSV or Parquet file ->
:class:`EncodedBatch`), :class:`EncodeSummary`. Calling the package itself, as
``hm.encode(...)``, runs :func:`encode_records`.
"""

from hashmatch._api.callable_package import make_callable
from hashmatch.encode.keys import LinkageSecret
from hashmatch.encode.pipeline import (
    REJECT_REASONS,
    EncodedBatch,
    EncodeSummary,
    encode_file,
    encode_records,
)
from hashmatch.encode.records import FieldStats, Reject

__all__ = [
    "REJECT_REASONS",
    "EncodeSummary",
    "EncodedBatch",
    "FieldStats",
    "LinkageSecret",
    "Reject",
    "encode_file",
    "encode_records",
]

make_callable(__name__, "hashmatch.encode.pipeline:encode_records")  # hm.encode(...)
