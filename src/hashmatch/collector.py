"""Pausing Python's cyclic garbage collector over a bulk pass that makes no cycles.

Encoding allocates millions of small objects (canonical values, outcome tuples, memo
entries) and keeps hundreds of thousands of them alive in its memos. The cyclic collector
runs every 700 net allocations and, now and then, walks every tracked object, memos
included: measured on 356,930 unique CRM rows, 13% of a one-worker encode's CPU time
(6.4 s with it, 5.6 s without), all spent finding nothing (the whole run leaves about
560 unreachable objects, none of them made per chunk). Reference counting frees
everything an encode drops; only cycles wait for the collector, and
:func:`collector_paused` collects those once, young ones at each ``step``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with automatic cyclic collection off, as it was before afterwards.

    Other threads of the process see the collector paused too, for as long as the block
    runs; nothing is lost, as the collector finds the same cycles when it runs again.
    Nests: an inner pause leaves the collector off for the outer one.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def step() -> None:
    """Collect the cycles made since the last collection (the youngest generation only:
    what a bulk pass made since its last step, not the long-lived memos)."""
    gc.collect(0)
