"""Following 1,000 feeds from an OPML file (`/feed import`) against adding them one by one
(`/feed add` each), in the same run, against the farm on 127.0.0.1 (bench/farm.py).

    python bench/bench_opml.py [--feeds 1000] [--baseline-feeds 1000]

Both end with every feed followed and first-polled (its 10 posts archived, none announced).
The import reads the OPML file, fetches, parses and stores concurrently (BULK_FETCHES, at most
BULK_FETCHES_PER_HOST to the farm's one host, through a session as polite as the bot's: 4
connections per host) and writes feeds and subscriptions in batches; the baseline calls
FeedPoller.subscribe (discovery, fetch, parse, store) for one URL after the other, as 1,000
`/feed add` would. The history imports that follow an import are not timed. Prints wall and
CPU time, loop lag and peak memory; the ratio is baseline wall / import wall.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_poll import LoopLag  # noqa: E402
from farm import start_farm  # noqa: E402

from bot.bulk import BulkFollower, plan  # noqa: E402
from bot.fetch import Fetcher, create_session  # noqa: E402
from bot.models import Outline  # noqa: E402
from bot.opml import read_opml, write_opml  # noqa: E402
from bot.poller import FeedPoller  # noqa: E402
from bot.startup import tune_for_the_event_loop  # noqa: E402
from bot.store import Store  # noqa: E402

GUILD = 1


async def timed(label: str, work, lag: LoopLag) -> tuple[float, object]:
    cpu, wall = time.process_time(), time.perf_counter()
    with lag:
        result = await work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"  {label:<40} wall {wall:7.2f} s  cpu {cpu:7.2f} s  loop lag p99 {lag.p99_ms():6.1f} ms"
        f" max {lag.max_ms():6.1f} ms",
        flush=True,
    )
    return wall, result


async def bulk(store: Store, fetcher: Fetcher, opml: bytes) -> str:
    poller = FeedPoller(store, fetcher, default_interval=3600)
    try:
        outlines = await asyncio.to_thread(read_opml, opml)
        channels = {"Tech": 1001, "Food": 1002}
        follows = plan(outlines, lambda o: channels.get(o.category or "", 1000))
        report = await BulkFollower(poller, GUILD).follow(follows)
    finally:
        poller.close()
    posts = await store._value("SELECT count(*) FROM posts")
    failed = len(report.failed)
    return f"followed={report.followed} skipped={report.skipped} failed={failed} posts={posts}"


async def one_by_one(store: Store, fetcher: Fetcher, urls: list[str]) -> str:
    poller = FeedPoller(store, fetcher, default_interval=3600)
    try:
        stored = 0
        for n, url in enumerate(urls):
            result = await poller.subscribe(url, guild_id=GUILD, channel_id=1000 + n % 3)
            stored += result.stored
    finally:
        poller.close()
    return f"followed={len(urls)} posts={stored}"


async def main(feeds: int, baseline_feeds: int) -> None:
    farm, base = start_farm()
    tune_for_the_event_loop()  # as `python -m bot` does once started
    lag = LoopLag()
    categories = ["Tech", "Food", "Elsewhere"]
    outlines = [Outline(f"{base}/feed/{n}", f"Blog {n}", categories[n % 3]) for n in range(feeds)]
    opml = write_opml(outlines)
    print(f"{feeds} feeds in a {len(opml) // 1024} KB OPML file, 10 posts each, from {base}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with create_session(allow_private=True) as session:  # 4 connections a host
                fetcher = Fetcher(session)
                async with session.post(f"{base}/_warm?feeds={feeds}"):
                    pass
                store = await Store.open(Path(tmp) / "bulk.db")
                print("Gazette: OPML import (bot.bulk.BulkFollower)")
                g_wall, result = await timed(
                    f"import of {feeds:,} feeds", lambda: bulk(store, fetcher, opml), lag
                )
                print(f"    {result}")
                await store.close()

                store = await Store.open(Path(tmp) / "one_by_one.db")
                urls = [o.url for o in outlines[:baseline_feeds]]
                print("Baseline: one by one (FeedPoller.subscribe, as /feed add)")
                b_wall, result = await timed(
                    f"{len(urls):,} feeds one by one", lambda: one_by_one(store, fetcher, urls), lag
                )
                print(f"    {result}")
                await store.close()
        per_feed_g, per_feed_b = g_wall / feeds, b_wall / len(urls)
        print(
            f"Per feed: import {per_feed_g * 1000:.1f} ms, one by one {per_feed_b * 1000:.1f} ms;"
            f" ratio (one by one / import) {per_feed_b / per_feed_g:.1f}x"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"Peak memory (RSS) of the benchmark process: {peak:.0f} MiB")
    finally:
        farm.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument(
        "--baseline-feeds", type=int, default=1000, help="feeds added one by one (fewer: faster)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.feeds, args.baseline_feeds))
