"""Python's cyclic garbage collector, paused while a repository is read and compiled.

Loading, validating and compiling build large trees of small, acyclic objects (a mapping
per YAML node, a list per sequence, a dataclass per rule): reference counting frees all
of them, but the collector, triggered by the allocations alone, walks every live object
again and again; on 10,000 agents x 1,000 packs that was a fifth to a third of the build
(benchmarks/scaling.py). Whatever cycles the work makes are collected once it is done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """The collector off inside (nested uses are fine), back as it was after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
