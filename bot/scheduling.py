"""Background tasks and per-resource locks that live as long as they are used, no longer."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable, Collection, Coroutine, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Checks started in one slice of the event loop (FeedPoller.start_due): after a restart, the
#: 1,000 due ones started at once held the loop 15-30 ms (bench_e2e's cold phase), 100 with
#: their first steps 3-9 ms
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


# --- a worker thread that gives way to the event loop --------------------------------------

#: The longest a job of an IdleThread waits for the event loop to be idle: a loop busy that long
#: is late anyway, and the job must not starve behind it
IDLE_WAIT = 0.005


class _IdleWatch:
    """An event loop's selector, seen from a worker thread: `idle` while the loop waits for
    events with nothing ready to run (a select with a timeout of zero is not idle)."""

    def __init__(self, selector) -> None:
        self._selector = selector
        self.idle = False
        self.waiting = False  # a job waits for `wake`
        self.wake = threading.Event()

    def select(self, timeout: float | None = None):
        if timeout is None or timeout > 0:
            self.idle = True
            if self.waiting:
                self.wake.set()
        try:
            return self._selector.select(timeout)
        finally:
            self.idle = False

    def __getattr__(self, name: str):  # register, modify, get_map, close...: the selector's
        return getattr(self._selector, name)


class IdleThread(ThreadPoolExecutor):
    """One worker thread whose jobs start while the event loop that submits them is idle.

    Python code in a thread takes the GIL from the loop: each time the loop lets the GIL go
    (every socket call, every hand-over to another thread) it waits up to the switch interval
    to get it back, and a loop turn of 20 such calls lasts 20 ms more. The parse thread ran its
    queue of jobs back to back, busy during most of bench_e2e's cold phase (1,000 feeds parsed
    in 3 s): loop lag p99 30 ms on a loaded machine against 21 ms with its jobs started only
    while the loop waits for events (at most IDLE_WAIT later), at the same CPU time.

    Only on asyncio's selector loops; elsewhere, and outside a loop, jobs start at once.
    """

    def __init__(self, thread_name_prefix: str) -> None:
        super().__init__(max_workers=1, thread_name_prefix=thread_name_prefix)
        self._watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _IdleWatch] = (
            weakref.WeakKeyDictionary()
        )

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        try:
            watch = self._watch(asyncio.get_running_loop())
        except RuntimeError:  # not from a loop
            watch = None
        if watch is None:
            return super().submit(fn, *args, **kwargs)
        return super().submit(_when_idle, watch, fn, args, kwargs)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> _IdleWatch | None:
        watch = self._watches.get(loop)
        if watch is None:
            selector = getattr(loop, "_selector", None)  # asyncio's selector loops
            if selector is None:
                return None
            if not isinstance(selector, _IdleWatch):  # another IdleThread's watch serves
                selector = loop._selector = _IdleWatch(selector)
            watch = self._watches[loop] = selector
        return watch


def _when_idle(watch: _IdleWatch, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    watch.waiting = True  # before reading `idle`: the loop reads it after setting `idle`
    if not watch.idle:
        watch.wake.wait(IDLE_WAIT)
    watch.waiting = False
    watch.wake.clear()
    return fn(*args, **kwargs)
