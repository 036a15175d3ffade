"""The cost of digests with a hostile or very busy blog.

    python bench/bench_digests.py [--posts 5000] [--html 20000] [--subscriptions 40000]

1. A digest period of `--posts` posts of `--html` characters each: what the digest reads
   (`digest_posts`, with the peak memory Python allocates) and renders (`render_digest`).
2. `store_entries` of 1,000 new posts of one feed (10 subscriptions, one a digest) in a
   database of `--subscriptions` subscriptions: what holding them for the digest costs must
   not grow with the subscriptions of other feeds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.models import Entry  # noqa: E402
from bot.render.digest import MAX_LINES, render_digest  # noqa: E402
from bot.store import Store  # noqa: E402


async def _feed(store: Store, n: int):
    return await store.add_feed(
        f"https://b{n}.test/feed",
        title="B",
        site_url=None,
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )


async def big_period(folder: Path, posts: int, html: int) -> None:
    store = await Store.open(folder / "period.sqlite3")
    feed = await _feed(store, 0)
    sub = await store.add_subscription(feed.id, 1, 10)
    await store.set_digest(1, sub.id, "daily", 8, 0)
    body = "<p>" + "word " * (html // 5) + "</p>"
    for start in range(0, posts, 500):
        batch = range(start, min(posts, start + 500))
        entries = [Entry(key=f"k{i}", title=f"title {i}", content_html=body) for i in batch]
        await store.store_entries(feed.id, entries, announce=True)
    store.clock = lambda: time.time() + 2 * 86400
    await store.claim_due_digests()
    [digest] = await store.due_digests(time.time())
    tracemalloc.start()
    started = time.perf_counter()
    shown, total = await store.digest_posts(digest.id, MAX_LINES)
    read = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    started = time.perf_counter()
    rendered = render_digest(shown, "B", "u", time.time(), "UTC", total)
    rendering = time.perf_counter() - started
    print(
        f"period of {posts} posts of {html} chars: digest_posts {read:.3f} s,"
        f" peak {peak / 1e6:.1f} MB; render_digest {rendering:.3f} s"
        f" ({rendered.shown} listed, {rendered.more} counted)"
    )
    await store.close()


async def holding(folder: Path, subscriptions: int) -> None:
    store = await Store.open(folder / "holding.sqlite3")
    feeds = [await _feed(store, n) for n in range(subscriptions // 10)]
    async with store.transaction() as db:
        await db.executemany(
            "INSERT INTO subscriptions(feed_id, guild_id, channel_id, created_at)"
            " VALUES (?, ?, ?, 0)",
            [(feeds[i % len(feeds)].id, 1 + i // 50, 1000 + i) for i in range(subscriptions)],
        )
    first = await store._all("SELECT id FROM subscriptions WHERE feed_id = ?", (feeds[0].id,))
    await store.set_digest(1, first[0]["id"], "daily", 8, 0)
    entries = [Entry(key=f"k{i}", title=f"title {i}") for i in range(1000)]
    started = time.perf_counter()
    await store.store_entries(feeds[0].id, entries, announce=True)
    print(
        f"store_entries of 1,000 posts among {subscriptions} subscriptions:"
        f" {time.perf_counter() - started:.3f} s"
    )
    await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--html", type=int, default=20000)
    parser.add_argument("--subscriptions", type=int, default=40000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        await big_period(Path(folder), args.posts, args.html)
        await holding(Path(folder), args.subscriptions)


if __name__ == "__main__":
    asyncio.run(main())
