"""Background tasks and per-resource locks that live as long as they are used, no longer."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Collection, Coroutine, Hashable, Iterable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Due feeds read and started in one slice of the event loop (FeedPoller.start_due): after a
#: restart, 1,000 read in one step held the loop 8-15 ms (bench_e2e's cold phase); 100 checks
#: started with their first steps, 3-9 ms
START_SLICE = 50

# the event loop keeps only weak references to tasks: these are kept until they finish
_running: set[asyncio.Task] = set()


def create_task(coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task:
    """Start `coro` in the background; it is kept alive until done, and a failure is logged
    with its cause (never lost as 'Task exception was never retrieved')."""
    task = asyncio.create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task) -> None:
    _running.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("background task %s failed", task.get_name(), exc_info=exc)


class LockTable:
    """One asyncio.Lock per key, forgotten once nobody holds or awaits it (a plain dict of
    locks keyed by channel or discussion would grow for as long as the bot runs)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[Hashable, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def __call__(self, key: Hashable) -> asyncio.Lock:
        """The lock for `key`; hold the returned object while using it (`async with`)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def __len__(self) -> int:
        return len(self._locks)


class KeyedTasks:
    """Background work, one task at a time per key (a feed, a post): a key whose task is
    still running is skipped, so one slow site holds up nothing but itself."""

    def __init__(self) -> None:
        self._tasks: dict[Hashable, asyncio.Task] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def keys(self) -> Collection[Hashable]:
        """The keys whose task is running."""
        return self._tasks.keys()

    def start(
        self,
        items: Iterable[T],
        key: Callable[[T], Hashable],
        work: Callable[[T], Coroutine[Any, Any, Any]],
        limit: int,
    ) -> list[asyncio.Task]:
        """Start `work(item)` for at most `limit` items whose key has no task running."""
        started: list[asyncio.Task] = []
        for item in items:
            k = key(item)
            if k in self._tasks or len(started) >= limit:
                continue
            task = create_task(work(item), name=f"check {k}")
            self._tasks[k] = task
            task.add_done_callback(lambda _, k=k: self._tasks.pop(k, None))
            started.append(task)
        return started

    def cancel_all(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()

    def running(self, key: Hashable) -> asyncio.Task | None:
        """The task running for `key`, if one is."""
        return self._tasks.get(key)


async def whole_cycle(start_due, report, *, limit: int):
    """Start every due check of a service (`start_due`, which returns its tasks) and wait
    until each is recorded, adding each check's report into `report` (tests, benchmarks)."""

    async def add(one) -> None:
        report.add(one)

    await asyncio.gather(*await start_due(limit=limit, on_recorded=add))
    return report
