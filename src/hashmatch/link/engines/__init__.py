"""Where a link's comparisons and solving run: ``"local"`` (this process, the pipeline of
:mod:`hashmatch.link.pipeline`) or ``"dask"`` (tasks of a Dask cluster,
:mod:`hashmatch.link.engines.dask`), with the same results.

Engines other than the local one are imported only when asked for, so ``import hashmatch``
never imports their optional dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hashmatch.link.blocking import BlockingConfig
from hashmatch.link.inputs import Encoding
from hashmatch.link.result import LinkResult, PartyInfo

__all__ = ["ENGINES", "run_engine"]

#: The engines ``link`` accepts.
ENGINES = ("local", "dask")


def run_engine(
    engine: str,
    scheduler: Any,
    encodings: Sequence[Any],
    parties: Sequence[Encoding],
    infos: Sequence[PartyInfo],
    jobs: Sequence[tuple[int, int]],
    config: BlockingConfig | None,
    **options: Any,
) -> LinkResult:
    """Run a checked link (inputs compatible, jobs listed) on a non-local engine."""
    if engine not in ENGINES or engine == "local":
        msg = f"engine: expected one of {list(ENGINES)}, got {engine!r}"
        raise ValueError(msg)
    if config is None:
        msg = "the dask engine needs blocking (linking without it is for small inputs)"
        raise ValueError(msg)
    from hashmatch.link.engines.dask import link_on_dask

    return link_on_dask(scheduler, encodings, parties, infos, jobs, config, **options)
