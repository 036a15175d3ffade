"""Background work helpers (bot/scheduling.py)."""

from __future__ import annotations

import asyncio
import time

from bot import scheduling
from bot.scheduling import IdleThread


async def test_an_idle_thread_job_starts_once_the_loop_waits_for_events(monkeypatch):
    """A job submitted while the loop runs its callbacks waits until the loop is idle (the
    thread would otherwise take the GIL from it at each of its socket calls)."""
    monkeypatch.setattr(scheduling, "IDLE_WAIT", 5.0)
    pool = IdleThread(thread_name_prefix="test-idle")
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(pool, time.sleep, 0)  # the thread is up
        job = loop.run_in_executor(pool, time.perf_counter)
        time.sleep(0.1)  # noqa: ASYNC251 (the loop kept busy, as by a long callback)
        busy_until = time.perf_counter()
        assert await asyncio.wait_for(job, 5) >= busy_until
    finally:
        pool.shutdown()


async def test_an_idle_thread_job_waits_no_longer_than_idle_wait(monkeypatch):
    monkeypatch.setattr(scheduling, "IDLE_WAIT", 0.01)
    pool = IdleThread(thread_name_prefix="test-idle")
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(pool, time.sleep, 0)
        job = loop.run_in_executor(pool, time.perf_counter)
        start = time.perf_counter()
        time.sleep(0.5)  # noqa: ASYNC251 (busy for longer than the job may wait)
        assert start < await job < start + 0.4
    finally:
        pool.shutdown()


def test_an_idle_thread_runs_jobs_submitted_outside_a_loop_at_once():
    with IdleThread(thread_name_prefix="test-idle") as pool:
        assert pool.submit(sum, [1, 2]).result(timeout=5) == 3
