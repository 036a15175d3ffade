"""One poll cycle over 1,000 feeds on 127.0.0.1: cold, unchanged (304) and changed (one new
entry each), through Gazette's own poller, against a peer-style baseline in the same run
(fetch everything, full `feedparser.parse` with its defaults, insert what is new).

    python bench/bench_poll.py [--feeds 1000]

Prints wall time, CPU time, the event loop's worst lags and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from farm import start_farm  # noqa: E402

from bot.feeds import entry_key  # noqa: E402
from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.models import Entry, PollReport  # noqa: E402
from bot.poller import FeedPoller  # noqa: E402
from bot.startup import tune_for_the_event_loop  # noqa: E402
from bot.store import Store  # noqa: E402


class LoopLag:
    """A task that sleeps 10 ms and records how late it wakes."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(time.perf_counter() - start - 0.01)

    def __enter__(self) -> LoopLag:
        self.lags.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()

    def p99_ms(self) -> float:
        if len(self.lags) < 2:
            return 0.0
        return statistics.quantiles(self.lags, n=100, method="inclusive")[98] * 1000

    def max_ms(self) -> float:
        return max(self.lags, default=0.0) * 1000


async def timed(label: str, work, lag: LoopLag) -> float:
    cpu, wall = time.process_time(), time.perf_counter()
    with lag:
        result = await work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    extra = ""
    if isinstance(result, PollReport):
        extra = f"polled={result.polled} unchanged={result.unchanged} new={result.new_posts}"
        extra += f" archived_silently={result.archived_silently} failed={result.failed}"
    elif result is not None:
        extra = f"count={result}"
    print(
        f"  {label:<34} wall {wall:7.2f} s  cpu {cpu:7.2f} s  loop lag p99 {lag.p99_ms():6.1f} ms"
        f" max {lag.max_ms():6.1f} ms  {extra}",
        flush=True,
    )
    return wall


async def setup_store(path: Path, base: str, feeds: int) -> Store:
    store = await Store.open(path)
    for number in range(feeds):
        feed = await store.add_feed(
            f"{base}/feed/{number}",
            title=None,
            site_url=None,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_check_at=0,
        )
        await store.add_subscription(feed.id, 1, 1000 + number)
    return store


async def baseline_cycle(store: Store, session, feed_ids: dict[int, str]) -> int:
    """What the peers do: fetch every feed whole and fully parse every entry again."""
    limit = asyncio.Semaphore(16)
    new = 0

    async def one(feed_id: int, url: str) -> None:
        nonlocal new
        async with limit:
            async with session.get(url) as response:
                body = await response.read()
            parsed = await asyncio.to_thread(feedparser.parse, body)
            entries = [
                Entry(
                    key=entry_key(e.get("id"), e.get("link"), e.get("title"), e.get("published")),
                    title=e.get("title", ""),
                    link=e.get("link"),
                    content_html=(e.get("content") or [{}])[0].get("value", ""),
                )
                for e in parsed.entries
            ]
            stored = await store.store_entries(feed_id, entries, announce=True)
            new += len(stored)

    await asyncio.gather(*(one(fid, url) for fid, url in feed_ids.items()))
    return new


async def main(feeds: int) -> None:
    farm, base = start_farm()
    tune_for_the_event_loop()  # as `python -m bot` does once started
    lag = LoopLag()
    print(f"{feeds} feeds, 10 posts each (~4 KB HTML), served from {base} in another process")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with create_session(
                allow_private=True, max_connections=64, max_per_host=64
            ) as session:
                fetcher = Fetcher(session)
                async with session.post(f"{base}/_warm?feeds={feeds}"):
                    pass
                # Gazette: interval 0 so every feed is due again for the next cycle
                store = await setup_store(Path(tmp) / "gazette.db", base, feeds)
                poller = FeedPoller(store, fetcher, default_interval=0.0, max_concurrency=16)
                print("Gazette (bot.poller.FeedPoller)")
                g_cold = await timed(
                    "cold (1,000 x 200, all new)", lambda: poller.poll_due(limit=feeds), lag
                )
                await timed("  then indexing them for search", store.index_pending, lag)
                g_same = await timed(
                    "unchanged (1,000 x 304)", lambda: poller.poll_due(limit=feeds), lag
                )
                async with session.post(f"{base}/_bump?feeds={feeds}"):
                    pass
                g_changed = await timed(
                    "changed (one new entry each)", lambda: poller.poll_due(limit=feeds), lag
                )
                await store.close()

                # the baseline, same farm, same machine, same run
                store = await setup_store(Path(tmp) / "baseline.db", base, feeds)
                ids = {f.id: f.url for f in await store.due_feeds(time.time(), feeds)}
                print("Baseline (full fetch + feedparser.parse defaults, like reader/CordFeeder)")
                b_cold = await timed("cold", lambda: baseline_cycle(store, session, ids), lag)
                b_same = await timed("unchanged", lambda: baseline_cycle(store, session, ids), lag)
                async with session.post(f"{base}/_bump?feeds={feeds}"):
                    pass
                b_changed = await timed("changed", lambda: baseline_cycle(store, session, ids), lag)
                await store.close()
        print("Ratios (baseline wall / Gazette wall):")
        print(
            f"  cold {b_cold / g_cold:5.1f}x   unchanged {b_same / g_same:5.1f}x   "
            f"changed {b_changed / g_changed:5.1f}x"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"Peak memory (RSS) of the benchmark process: {peak:.0f} MiB")
    finally:
        farm.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    asyncio.run(main(parser.parse_args().feeds))
