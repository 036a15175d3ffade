"""The cost of topic roles per announcement at 1,000 subscriptions, and of `/feed roles`'
ranking of a feed's topics in a large archive.

    python bench/bench_topics.py [--subscriptions 1000] [--topics 25] [--posts 20000]

A new post owed to every one of N subscriptions (each with `--topics` topic roles, the
panel's maximum by default; the post carrying 4 categories and 6 tags, 3 of them topics of
every subscription) is matched N times, as the Deliverer does once per delivery: the store's
read of the subscription's topics (`topic_role_map`, indexed) and the pure matching
(`bot.topics.roles_to_mention`). Beside it, in the same run, the rendering every delivery
already pays (`render_announcement` of the same post, a ~4 KB article; timed
on 50 renderings and scaled to N): the figure to compare
with, since the machine's load moves absolute times. The CPU is the process's (the store's
reads run in aiosqlite's thread).

Then `popular_topics` (what `/feed roles` reads first) on a feed of `--posts` posts with
~300 distinct categories and tags: one read of the archive's per-feed counts, whatever the
number of posts.
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
from bot.render.announcement import render_announcement  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.topics import roles_to_mention  # noqa: E402

RENDERS = 50  # renderings timed per round (each delivery renders the same way)
ARTICLE = "".join(  # ~4 KB: 25 paragraphs, a link and some bold in each
    f"<p>Paragraph {n} of the article, <b>with some bold</b>, a <a href='/x/{n}'>link</a> and"
    " enough plain words to look like a blog post of ordinary length.</p>"
    for n in range(25)
)


def cpu_and_wall(started: tuple[float, float]) -> tuple[float, float]:
    return time.process_time() - started[0], time.perf_counter() - started[1]


def now() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


async def new_feed(store: Store, url: str) -> int:
    feed = await store.add_feed(
        url,
        title="Bench blog",
        site_url=None,
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )
    return feed.id


async def per_announcement(store: Store, subscriptions: int, topics: int, rounds: int) -> None:
    feed_id = await new_feed(store, "https://bench.test/feed/")
    subs = []
    for n in range(subscriptions):
        sub = await store.add_subscription(
            feed_id, guild_id=1000 + n, channel_id=5000 + n, mention_role_id=9000 + n
        )
        subs.append(sub.id)
        await store.set_topic_roles(
            sub.id, [(f"Topic {t} Café", 100_000 * n + t, True) for t in range(topics)]
        )
    await store.store_entries(
        feed_id,
        [
            Entry(
                key="post",
                title="A post with many topics",
                link="https://bench.test/post/",
                categories=["Topic 0 CAFE", "Elsewhere", "Topic 7 cafe", "Misc"],
                tags=["one", "two", "topic 3 café", "three", "four", "five"],
                content_html=ARTICLE,
            )
        ],
        announce=False,
    )
    post = await store.latest_post(feed_id)
    topics_of_post = [*post.categories, *post.tags]

    lookup, match, render = [], [], []
    for _ in range(rounds):
        started = now()
        maps = [await store.topic_role_map(sub_id) for sub_id in subs]
        lookup.append(cpu_and_wall(started))
        started = now()
        for n, roles in enumerate(maps):
            chosen = roles_to_mention(9000 + n, roles, topics_of_post)
        match.append(cpu_and_wall(started))
        assert len(chosen) == 4, chosen
        started = now()
        for _ in range(RENDERS):  # as costly for each delivery: a sample, scaled
            render_announcement(post, "Bench blog")
        cpu, wall = cpu_and_wall(started)
        render.append((cpu * subscriptions / RENDERS, wall * subscriptions / RENDERS))

    def line(name: str, samples: list[tuple[float, float]]) -> float:
        cpu = statistics.median(s[0] for s in samples)
        wall = statistics.median(s[1] for s in samples)
        per = cpu / subscriptions * 1e6
        print(
            f"  {name:<34} {cpu * 1000:8.1f} ms CPU {wall * 1000:8.1f} ms wall"
            f"  {per:7.1f} µs CPU each"
        )
        return cpu

    print(
        f"{subscriptions} subscriptions x {topics} topic roles; one post (10 topics, 3 matching)"
        f" delivered to each; median of {rounds} rounds"
    )
    looked = line("topic_role_map (store read)", lookup)
    matched = line("roles_to_mention (pure)", match)
    rendered = line("render_announcement (paid already)", render)
    print(
        f"  topic roles / rendering: {(looked + matched) / rendered:.1%} "
        f"(matching alone {matched / rendered:.1%})"
    )


async def ranking(store: Store, posts: int) -> None:
    feed_id = await new_feed(store, "https://big.test/feed/")
    batch = []
    for n in range(posts):
        batch.append(
            Entry(
                key=f"p{n}",
                title=f"Post {n}",
                categories=[f"Category {n % 40}", f"Catégorie {n % 7}"],
                tags=[f"tag {n % 250}", f"Tag {n % 13}"],
                content_html="<p>x</p>",
            )
        )
        if len(batch) == 2000:
            await store.store_entries(feed_id, batch, announce=False)
            batch = []
    if batch:
        await store.store_entries(feed_id, batch, announce=False)
    times = []
    for _ in range(20):
        started = now()
        found = await store.popular_topics(feed_id)
        times.append(cpu_and_wall(started))
    assert len(found) == 25
    wall = statistics.median(t[1] for t in times) * 1000
    print(f"popular_topics on a feed of {posts} posts: {wall:.2f} ms (median of 20)")


async def main(subscriptions: int, topics: int, posts: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "bench.sqlite3")
        try:
            await per_announcement(store, subscriptions, topics, rounds)
            await ranking(store, posts)
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--topics", type=int, default=25)
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.subscriptions, args.topics, args.posts, args.rounds))
