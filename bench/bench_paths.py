"""Two paths users wait on, through the fake Discord and a blog on 127.0.0.1:
`/feed add` of a 10-post feed, and `/archive search` at 10,000 posts (idle, then while
long write transactions run, as in a changed poll cycle).

    python bench/bench_paths.py [--adds 20] [--searches 60] [--posts 10000] [--profile add|search]
    python bench/bench_paths.py --only list [--list-feeds 1000] [--profile list]

Everything runs in this one process (the fake Discord, the blog, the bot), so the CPU time
of an operation includes the fake's side. The baseline, measured in the same run, is a
command with the same Discord traffic and next to no work for the bot: `/feed list` on the
same server (defer, then one followup) for `/feed add` and `/feed list`; for
`/archive search` (one answer, no defer) a search with no searchable word, answered before
the store is asked. "bot CPU" below is the operation's CPU minus the baseline's.
Latency: from the invoke to the reply (the followup).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import discord  # noqa: E402
import yarl  # noqa: E402

from bot.models import Entry  # noqa: E402
from tests.blog import Blog  # noqa: E402
from tests.fakediscord import ChannelType, FakeDiscord  # noqa: E402
from tests.harness import World, eventually  # noqa: E402
from tests.httpserver import LocalSite  # noqa: E402

WORDS = (
    "river garden winter coffee travel history music library window market bridge engine "
    "summer letter forest island camera kitchen theatre harbour"
).split()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def timed(world: World, name: str, options: dict, profile: cProfile.Profile | None = None):
    """(cpu seconds, wall seconds, result) of one command, from invoke to reply."""
    c0, t0 = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    result = await world.command(name, options, timeout=30)
    if profile:
        profile.disable()
    return time.process_time() - c0, time.perf_counter() - t0, result


async def baseline(
    world: World, n: int, name: str = "feed list", options: dict | None = None
) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(n):
        c, w, _ = await timed(world, name, options or {})
        cpu.append(c)
        wall.append(w)
    return statistics.median(cpu), statistics.median(wall)


async def open_world(tmp: Path, channels: int = 0) -> tuple[World, contextlib.AsyncExitStack]:
    stack = contextlib.AsyncExitStack()
    fake = FakeDiscord()
    guild = fake.add_guild("Readers")
    text = fake.add_channel(guild, "blog", type=ChannelType.TEXT)
    # where --feeds are announced
    more = [fake.add_channel(guild, f"blogs-{n}", type=ChannelType.TEXT) for n in range(channels)]
    news = fake.add_channel(guild, "news", type=ChannelType.NEWS)
    forum = fake.add_channel(guild, "articles", type=ChannelType.FORUM)
    role = fake.add_role(guild, "Subscribers")
    await fake.start()
    stack.push_async_callback(fake.stop)
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    site = await stack.enter_async_context(LocalSite())
    world = World(fake, site, tmp / "gazette.sqlite3", guild, text, news, forum, role)
    world.bench_channels = more
    await world.start()
    stack.push_async_callback(world.stop)
    return world, stack


def report(name: str, cpu: list[float], wall: list[float], base: tuple[float, float]) -> None:
    med = statistics.median(cpu)
    print(
        f"  {name:<34} cpu median {med * 1000:6.1f} ms (bot {max(med - base[0], 0) * 1000:6.1f} ms,"
        f" {med / base[0]:4.1f}x baseline)  reply p50 {pct(wall, 50) * 1000:6.1f} ms"
        f"  p99 {pct(wall, 99) * 1000:7.1f} ms  ({wall and len(wall)} runs)"
    )


def new_imports_done(world: World, seen: set) -> bool:
    tasks = set(world.bot.get_cog("Feeds").backfills._running.values())
    return bool(tasks - seen) and all(t.done() for t in tasks)


async def bench_add(world: World, n: int, profile: cProfile.Profile | None) -> None:
    base = await baseline(world, 10)
    print(f"  baseline /feed list: cpu {base[0] * 1000:.1f} ms, wall {base[1] * 1000:.1f} ms")
    seen: set = set()
    number = 0
    cases = (("home page URL", False), ("feed URL", False), ("feed URL, during long writes", True))
    for label, loaded in cases:
        cpu, wall, requests = [], [], []
        stop = asyncio.Event()
        load = asyncio.create_task(writer_load(world, None, stop)) if loaded else None
        for _ in range(n):
            number += 1
            blog = Blog(world.site, f"Blog {number}", prefix=f"/b{number}")
            for k in range(10):
                blog.publish(f"Post {k} about {WORDS[k]}", f"<p>{' '.join(WORDS)} {k}</p>" * 20)
            url = blog.home_url if label.startswith("home") else blog.feed_url
            before = len(world.site.requests)
            c, w, result = await timed(
                world, "feed add", {"url": url, "channel": world.text}, profile
            )
            assert "Following" in result.messages[-1]["content"], result.messages
            cpu.append(c)
            wall.append(w)
            # the history import runs after the reply: let it finish before the next add
            await eventually(functools.partial(new_imports_done, world, seen), 10)
            seen |= set(world.bot.get_cog("Feeds").backfills._running.values())
            requests.append(len(world.site.requests) - before)
        stop.set()
        if load:
            await load
        report(f"/feed add ({label})", cpu, wall, base)
        print(f"    requests to the blog per add (reply + history import): {max(requests)}")


async def fill_archive(world: World, posts: int, feeds: int) -> int:
    """`posts` posts in `feeds` feeds (the first added over the wire, the others straight
    into the store, announced in 50 channels); returns the first feed's id."""
    blog = Blog(world.site, "Archive blog", prefix="/arch")
    blog.publish("seed")
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text}, timeout=30)
    subs = await world.store.guild_subscriptions(world.guild)
    [sub] = [s for s in subs if s.feed_url == blog.feed_url]
    feed_ids = [sub.feed_id]
    channels = world.bench_channels
    for n in range(1, feeds):
        feed = await world.store.add_feed(
            f"https://blog{n}.example/feed/",
            title=f"Blog {n}",
            site_url=None,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_check_at=time.time() + 86400,
        )
        channel = channels[n % len(channels)] if channels else world.text
        await world.store.add_subscription(feed.id, world.guild, channel)
        feed_ids.append(feed.id)
    now = time.time() - 30 * 86400
    batch = []
    for i in range(posts):
        words = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(60))
        batch.append(
            Entry(
                key=f"bench-{i}",
                title=f"{WORDS[i % len(WORDS)].title()} notes {i}",
                link=f"https://example.org/{i}/",
                author=f"Author {i % 13}",
                published_at=now - i * 600,
                categories=[WORDS[i % 5]],
                content_html=f"<p>{words}</p><p>{words}</p>",
            )
        )
        if len(batch) == posts // feeds or i == posts - 1:
            feed_id = feed_ids[min(i * feeds // posts, feeds - 1)]
            await world.store.store_entries(feed_id, batch, announce=False)
            batch = []
    await world.store.index_pending()
    return sub.feed_id


async def bench_list(world: World, n: int, feeds: int, profile: cProfile.Profile | None):
    """`/feed list` on a server following `feeds` feeds in 50 channels."""
    base = await baseline(world, 10)
    print(f"  baseline /feed list: cpu {base[0] * 1000:.1f} ms, wall {base[1] * 1000:.1f} ms")
    channels = world.bench_channels
    for k in range(feeds):
        feed = await world.store.add_feed(
            f"https://list{k}.example/feed/",
            title=f"List blog {k}",
            site_url=None,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_check_at=time.time() + 86400,
        )
        await world.store.add_subscription(feed.id, world.guild, channels[k % len(channels)])
    cpu, wall = [], []
    for _ in range(n):
        c, w, result = await timed(world, "feed list", {}, profile)
        assert f"· {feeds} feeds" in str(result.messages[-1]["embeds"]), result.messages
        cpu.append(c)
        wall.append(w)
    report(f"/feed list, {feeds:,} feeds", cpu, wall, base)


async def writer_load(world: World, feed_id: int | None, stop: asyncio.Event) -> int:
    """As a changed poll cycle: new posts stored (so the index lags behind), and write
    transactions of ~50 ms back to back."""
    n = 0
    while not stop.is_set():
        n += 1
        if feed_id is not None:
            entry = Entry(key=f"load-{n}", title=f"Load {n}", content_html="<p>river load</p>")
            await world.store.store_entries(feed_id, [entry], announce=False)
        async with world.store.transaction() as db:
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 0.05:
                await db.execute("UPDATE archive_state SET indexed_upto = indexed_upto")
        await asyncio.sleep(0.005)
    return n


async def bench_search(
    world: World, n: int, posts: int, feeds: int, profile: cProfile.Profile | None
):
    t0 = time.perf_counter()
    feed_id = await fill_archive(world, posts, feeds)
    took = time.perf_counter() - t0
    print(f"  {posts:,} posts of {feeds:,} feeds stored and indexed in {took:.1f} s")
    # the same answer over the wire (one ephemeral message), no store query: "nothing to
    # search for" comes before the scope is read
    base = await baseline(world, 20, "archive search", {"query": "🚀"})
    print(
        f"  baseline /archive search 🚀 (nothing to search for): cpu {base[0] * 1000:.1f} ms,"
        f" wall {base[1] * 1000:.1f} ms"
    )
    queries = ["river garden", "coffee", "winter market", "notes", "bridge -island", "music*"]
    for label, loaded in (("idle", False), ("during long writes", True)):
        stop = asyncio.Event()
        load = asyncio.create_task(writer_load(world, feed_id, stop)) if loaded else None
        cpu, wall = [], []
        for i in range(n):
            c, w, result = await timed(
                world, "archive search", {"query": queries[i % len(queries)]}, profile
            )
            assert result.messages, result
            cpu.append(c)
            wall.append(w)
        stop.set()
        if load:
            await load
        report(f"/archive search ({label})", cpu, wall, base)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adds", type=int, default=20)
    ap.add_argument("--searches", type=int, default=60)
    ap.add_argument("--posts", type=int, default=10000)
    ap.add_argument("--feeds", type=int, default=1, help="feeds the posts belong to (50 channels)")
    ap.add_argument("--lists", type=int, default=10)
    ap.add_argument("--list-feeds", type=int, default=1000)
    ap.add_argument("--only", choices=["add", "search", "list"])
    ap.add_argument("--profile", choices=["add", "search", "list"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        channels = 50 if args.feeds > 1 or args.only == "list" else 0
        world, stack = await open_world(Path(tmp), channels)
        async with stack:
            if args.only in (None, "add"):
                print("/feed add")
                prof = cProfile.Profile() if args.profile == "add" else None
                await bench_add(world, args.adds, prof)
                if prof:
                    pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            if args.only in (None, "search"):
                print("/archive search")
                prof = cProfile.Profile() if args.profile == "search" else None
                await bench_search(world, args.searches, args.posts, args.feeds, prof)
                if prof:
                    pstats.Stats(prof).sort_stats("tottime").print_stats(30)
            if args.only == "list":  # adds feeds to the server: only on its own
                print("/feed list")
                prof = cProfile.Profile() if args.profile == "list" else None
                await bench_list(world, args.lists, args.list_feeds, prof)
                if prof:
                    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    asyncio.run(main())
