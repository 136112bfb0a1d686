"""The coordinator: encodings of N parties in, multi-party entities out.

Stages, one module each, in the order the data flows: :mod:`~hashmatch.link.blocking`
(candidate pairs from keyed tokens and CLK bits), :mod:`~hashmatch.link.segments` and
:mod:`~hashmatch.link.scoring` (one score per pair from the kernel's counts and the token
evidence), :mod:`~hashmatch.link.threshold`, :mod:`~hashmatch.link.solve` (one-to-one per
party pair), :mod:`~hashmatch.link.entities` (multi-party entities), and
:mod:`~hashmatch.link.outputs` (the results folder). :mod:`~hashmatch.link.pipeline` runs
them in order. Nothing here holds or imports the linkage secret or a normaliser.
Calling the package itself, as ``hm.link([...])``, runs :func:`hashmatch._api.linking.link`.
"""

from hashmatch._api.callable_package import make_callable
from hashmatch.link.compat import check_compatible
from hashmatch.link.inputs import token_kinds
from hashmatch.link.pipeline import (
    link_encodings,
    link_files,
    score_candidates,
    score_pairs,
    within_party_threshold,
)
from hashmatch.link.result import LinkResult, PairLinkStats, PartyInfo

__all__ = [
    "LinkResult",
    "PairLinkStats",
    "PartyInfo",
    "check_compatible",
    "link_encodings",
    "link_files",
    "score_candidates",
    "score_pairs",
    "token_kinds",
    "within_party_threshold",
]

make_callable(__name__, "hashmatch._api.linking:link")  # hm.link([...])
