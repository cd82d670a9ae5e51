"""The worker's collect-and-freeze rounds (streams.worker.heap), on this process's heap."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.worker.heap import HeapKeeper


class Node:
    """An object in a reference cycle: only the garbage collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_a_young_round_freezes_survivors_and_frees_young_cycles_and_a_full_round_the_rest() -> None:
    now = [0.0]
    keeper = HeapKeeper(full_every_s=3600, clock=lambda: now[0])
    kept = Node()
    assert keeper.tidy() == "young"
    assert gc.get_freeze_count() > 0
    frozen = weakref.ref(kept)
    del kept  # a cycle among frozen objects: left alone until a full round
    young = Node()
    dropped = weakref.ref(young)
    del young
    assert keeper.tidy() == "young"
    assert dropped() is None
    assert frozen() is not None
    now[0] = 3600
    assert keeper.tidy() == "full"
    assert frozen() is None
    assert keeper.tidy() == "young"
