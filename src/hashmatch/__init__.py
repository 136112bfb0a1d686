"""hashmatch: privacy-preserving identity matching.

Parties encode their own PII locally into keyed Bloom-filter and keyed-hash encodings
(``hashmatch encode``); a coordinator that never holds the secret links the encodings
(``hashmatch link``). This module is the stable public facade for Python users::

    import hashmatch as hm
    schema = hm.load_schema("schema.toml")
    secret = hm.LinkageSecret.load("linkage.secret")
    crm = hm.encode(df_crm, schema=schema, secret=secret, party="crm", mapping={...})
    calls = hm.encode("calls.csv", schema=schema, secret=secret, party="calls")
    res = hm.link([crm, calls])
    table = res.to_pandas()           # party, row, record_id, row_token, entity_id, ...
    scores = hm.evaluate(table, truth_df)

Names are imported on first use (PEP 562), so ``import hashmatch`` costs almost nothing,
and ``import hashmatch.link`` on a coordinator loads neither the encoder nor the
normalisers. ``hm.encode``, ``hm.link`` and ``hm.evaluate`` are the stage packages
themselves, callable (see :mod:`hashmatch._api.callable_package`). Submodules named with
a leading underscore are private.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from hashmatch._version import ENCODER_VERSION, FORMAT_VERSION, __version__
from hashmatch.errors import HashmatchError

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time see __getattr__
    from hashmatch._api.linking import link as link
    from hashmatch.encode.keys import LinkageSecret as LinkageSecret
    from hashmatch.encode.pipeline import EncodedBatch as EncodedBatch
    from hashmatch.encode.pipeline import encode_records as encode
    from hashmatch.evaluate import LinkageScores as LinkageScores
    from hashmatch.evaluate import evaluate_table as evaluate
    from hashmatch.link.result import LinkResult as LinkResult
    from hashmatch.schema import load_mapping as load_mapping
    from hashmatch.schema import load_schema as load_schema
    from hashmatch.schema.model import PartyMapping as PartyMapping
    from hashmatch.schema.model import Schema as Schema
    from hashmatch.service.client import Client as Client
    from hashmatch.synth import synthesize as synthesize

__all__ = [
    "ENCODER_VERSION",
    "Client",
    "FORMAT_VERSION",
    "EncodedBatch",
    "HashmatchError",
    "LinkResult",
    "LinkageScores",
    "LinkageSecret",
    "PartyMapping",
    "Schema",
    "__version__",
    "encode",
    "evaluate",
    "link",
    "load_mapping",
    "load_schema",
    "synthesize",
]

#: name -> module it lives in. ``encode``, ``link`` and ``evaluate`` map to themselves:
#: the callable stage packages.
_LAZY: dict[str, str] = {
    "Client": "hashmatch.service.client",
    "EncodedBatch": "hashmatch.encode.pipeline",
    "LinkResult": "hashmatch.link.result",
    "LinkageScores": "hashmatch.evaluate",
    "LinkageSecret": "hashmatch.encode.keys",
    "PartyMapping": "hashmatch.schema.model",
    "Schema": "hashmatch.schema.model",
    "encode": "hashmatch.encode",
    "evaluate": "hashmatch.evaluate",
    "link": "hashmatch.link",
    "load_mapping": "hashmatch.schema",
    "load_schema": "hashmatch.schema",
    "synthesize": "hashmatch.synth",
}


def __getattr__(name: str) -> Any:
    """Import a facade name on first use (PEP 562) and keep it in the module."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'hashmatch' has no attribute {name!r}"
        raise AttributeError(msg)
    value = import_module(module)
    if module != f"hashmatch.{name}":
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
