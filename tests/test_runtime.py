"""The engine's owners keep the cyclic collector off the state they hold (aiops.runtime)."""

from __future__ import annotations

import gc
import weakref

from aiops.runtime import FreezeSurvivors


class _Node:
    def __init__(self) -> None:
        self.peer = self


def test_survivors_of_a_batch_are_frozen_and_a_full_collection_still_finds_their_cycles():
    policy = FreezeSurvivors(full_every_s=3600)
    try:
        cycle = _Node()
        ref = weakref.ref(cycle)
        before = gc.get_freeze_count()
        policy.after_batch()                 # the batch's survivor is now out of view
        assert gc.get_freeze_count() > before
        del cycle
        gc.collect()
        assert ref() is not None             # frozen: ordinary collections skip it
        policy.full_every_s = 0              # the periodic full collection is due
        policy.after_batch()
        assert ref() is None                 # found and freed
        assert gc.get_freeze_count() > 0     # and what lives is frozen again
    finally:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
