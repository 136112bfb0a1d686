"""Where a link's comparisons and solving run: ``"local"`` (this process, the pipeline of
:mod:`hashmatch.link.pipeline`) or ``"dask"`` (tasks of a Dask cluster,
:mod:`hashmatch.link.engines.dask`), with the same results.

The pipeline knows engines only through its :class:`~hashmatch.link.pipeline.Engine`
protocol; callers name one here. Engines other than the local one are imported only when
named, so ``import hashmatch`` never imports their optional dependencies.
"""

from __future__ import annotations

from typing import Any

from hashmatch.link.pipeline import Engine

__all__ = ["ENGINES", "engine_named"]

#: The engines ``link`` accepts.
ENGINES = ("local", "dask")


def engine_named(name: str, scheduler: Any = None) -> Engine | None:
    """The engine called ``name`` (None for the local one, the pipeline's default);
    ``scheduler`` is the Dask scheduler's address or a ``distributed.Client``."""
    if name not in ENGINES:
        msg = f"engine: expected one of {list(ENGINES)}, got {name!r}"
        raise ValueError(msg)
    if name == "local":
        if scheduler is not None:
            msg = "a scheduler needs engine='dask'"
            raise ValueError(msg)
        return None
    from hashmatch.link.engines.dask import DaskEngine

    return DaskEngine(scheduler)
