"""Group commit: outcomes written as they come, those arriving during a write in the next one.

A check is recorded as soon as it finishes (nothing waits for a whole round), yet a thousand
checks finishing together cost a few transactions, not a thousand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatchWriter(Generic[T, R]):
    def __init__(self, write: Callable[[list[T]], Awaitable[list[R]]]) -> None:
        self._write = write  # writes a batch in one transaction; one result per item
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._lock = asyncio.Lock()

    async def write(self, item: T) -> R:
        """Write `item` (with whatever else is waiting); its result once it is stored."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        async with self._lock:
            if self._waiting:  # else an earlier holder wrote it
                batch, self._waiting = self._waiting, []
                await self._write_batch(batch, done)
        return await done

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]], own) -> None:
        try:
            results = await self._write([item for item, _ in batch])
        except BaseException as exc:
            # every item of the batch failed with it (the caller's own failure is raised
            # from its future, the others' from theirs)
            error = exc if isinstance(exc, Exception) else RuntimeError("write interrupted")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(exc, Exception):
                own.exception()  # retrieved: the cancellation itself goes up
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
