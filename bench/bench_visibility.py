"""What limiting the archive to the channels a member can view costs an autocomplete.

    python bench/bench_visibility.py [--feeds 1000] [--repeat 200]

A bot following `--feeds` feeds (two servers each, 20 posts apiece); one server follows 50 of
them in 50 channels. Prints the p50/p95 of `titles_like` (title autocomplete) for that
server, unrestricted and restricted to the 25 channels a member can view.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.models import Entry  # noqa: E402
from bot.store import Store  # noqa: E402

GUILD = 1
WORDS = ["coffee", "garden", "harbour", "lantern", "meadow", "orchard", "pepper", "quartz"]


async def build(store: Store, feeds: int) -> list[int]:
    channels = []
    for n in range(feeds):
        feed = await store.add_feed(
            f"https://blog{n}.example/feed/",
            title=f"Blog {n}",
            site_url=None,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_check_at=0,
        )
        await store.add_subscription(feed.id, 1000 + n, 1)
        await store.add_subscription(feed.id, 2000 + n, 2)
        if n < 50:
            await store.add_subscription(feed.id, GUILD, 10 + n)
            channels.append(10 + n)
        entries = [
            Entry(key=f"{n}-{k}", title=f"{WORDS[k % 8]} notes {n} {k}", published_at=k * 60.0)
            for k in range(20)
        ]
        await store.store_entries(feed.id, entries, announce=False)
    await store.index_pending()
    return channels


async def timed(call, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(Path(folder) / "bench.sqlite3")
        try:
            channels = await build(store, args.feeds)
            viewable = channels[::2]
            for label, limit in (("all channels", None), ("25 viewable channels", viewable)):
                for typed in ("", "cof"):
                    p50, p95 = await timed(
                        lambda t=typed, c=limit: store.titles_like(GUILD, t, channels=c),
                        args.repeat,
                    )
                    print(f"titles_like {typed!r:6} {label:22} p50 {p50:.2f} ms  p95 {p95:.2f} ms")
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
