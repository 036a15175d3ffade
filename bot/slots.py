"""Concurrency for reads of untrusted sites, so that slow sites only ever wait for each other.

A read takes one of `size` ordinary slots. If it is still running after `slow_after` seconds
its site is remembered as slow and the read moves to one of the few slow slots; when those
are all taken the read is given up (`TooSlow`: the caller records a failure and retries
later). A site remembered as slow starts its next reads in the slow slots directly (waiting
for one if need be) and is forgotten as soon as it answers quickly again. So however many
sites trickle their answers a byte a second, they hold at most `slow` slots.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Hashable
from typing import TypeVar

from .fetch import FetchTimeout

T = TypeVar("T")


class TooSlow(FetchTimeout):
    """A read outran its ordinary slot while every slot for slow sites was taken."""


class ReadSlots:
    def __init__(self, size: int, *, slow: int, slow_after: float) -> None:
        self.size = size
        self.slow = slow
        self.slow_after = slow_after
        self._ordinary = asyncio.Semaphore(size)
        self._slow_slots = asyncio.Semaphore(slow)
        self._slow_sites: set[Hashable] = set()

    @contextlib.asynccontextmanager
    async def hold(self, site: Hashable) -> AsyncIterator[Slot]:
        """A slot for work on `site`; reads through `Slot.read` are watched for slowness."""
        slot = Slot(self, site)
        slot.pool = self._slow_slots if site in self._slow_sites else self._ordinary
        await slot.pool.acquire()
        try:
            yield slot
        finally:
            slot.pool.release()


class Slot:
    def __init__(self, owner: ReadSlots, site: Hashable) -> None:
        self.owner = owner
        self.site = site
        self.pool: asyncio.Semaphore

    async def read(self, work: Awaitable[T]) -> T:
        """Await `work` (a request to the site), moving it to a slow slot if it overruns."""
        owner = self.owner
        loop = asyncio.get_running_loop()
        started = loop.time()
        task = asyncio.ensure_future(work)
        try:
            if self.pool is owner._ordinary:
                done, _ = await asyncio.wait({task}, timeout=owner.slow_after)
                if not done:
                    owner._slow_sites.add(self.site)
                    if owner._slow_slots.locked():
                        raise TooSlow(
                            f"no complete answer within {owner.slow_after:g} s while other slow"
                            " sites held every slot for slow sites; retried later"
                        )
                    await owner._slow_slots.acquire()  # free: returns at once
                    owner._ordinary.release()
                    self.pool = owner._slow_slots
            return await task
        finally:
            if not task.done():
                task.cancel()
                # its outcome is of no interest any more; retrieve it so none is logged
                task.add_done_callback(_ignore_outcome)
            if loop.time() - started < owner.slow_after:
                owner._slow_sites.discard(self.site)
            else:
                owner._slow_sites.add(self.site)


def _ignore_outcome(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()
