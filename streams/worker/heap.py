"""The worker's heap and Python's garbage collector.

The worker holds every call of the retention period in its tables: millions of objects at
national scale, and a full collection scans them all while every thread, the event loop
(wallboards, consuming) too, waits. In a national 20-minute freshness run there were 34 full
collections of 2 s each (docs/operations.md). So at start and then this often
(``gc_freeze_every_s``) the worker collects what was made since the last time and freezes the
survivors (``gc.freeze``): collections skip frozen objects, and refcounting still frees one
when a table drops it. Only a cycle among frozen objects would outlive its use, so once per
``gc_full_every_s`` the worker unfreezes everything and collects it all: one long pause an
hour, not two a minute.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import faust

from streams.settings import Settings


class HeapKeeper:
    """The collect-and-freeze rounds; ``tidy`` runs one (on the event loop: it is the
    collector's pause either way)."""

    def __init__(self, full_every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_every_s = full_every_s
        self.clock = clock
        self.last_full = clock()

    def tidy(self) -> str:
        """Collect the young objects, or all of them when a full round is due, and freeze
        the survivors; which it was, "young" or "full"."""
        now = self.clock()
        kind = "young"
        if now - self.last_full >= self.full_every_s:
            gc.unfreeze()
            self.last_full = now
            kind = "full"
        gc.collect()
        gc.freeze()
        return kind


def register(app: faust.App, settings: Settings) -> None:
    if settings.gc_freeze_every_s <= 0:
        return
    keeper = HeapKeeper(settings.gc_full_every_s)

    @app.task
    async def tidy_heap_at_start() -> None:
        # What start-up made (modules, classes, the app) is frozen at once: each full
        # collection scanned it all, 0.17 s, 11 times in the bench's 20-second replay.
        keeper.tidy()

    @app.timer(interval=settings.gc_freeze_every_s)
    async def tidy_heap() -> None:
        keeper.tidy()
