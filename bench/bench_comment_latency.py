"""How long a reader waits: a comment approved on the blog → in the article's thread, and a
comment trashed → gone from it, with the default settings, through the real bot, the fake
Discord and a WordPress-like blog on 127.0.0.1 (REST API).

    python bench/bench_comment_latency.py [--scale 50] [--posts 5] [--events 40]

A wait of minutes is measured in seconds: every clock of the bot is divided by `--scale`
(POLL_INTERVAL 300 s → 6 s, the loops' 15 s tick → 0.3 s, ...). Each comment's wait is split
into what the schedule decides (approval → the read of its post that finds it: scaled back up)
and what the work costs (that read → the message shown or deleted: real seconds, not scaled),
and the figure at the default settings is their sum. The articles are new (what the goal is
about: older ones are read less often, by design).

Baseline, in the same run: the schedule before this change (comments every 300 s whatever the
feed's interval, jitter ×0.9–1.1, reads started on the loop's 15 s tick), set up on the same
code by restoring those three. Two feed intervals: POLL_INTERVAL=300 (the default) and 60.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import discord  # noqa: E402
import yarl  # noqa: E402

import bot.comments  # noqa: E402
import tests.harness  # noqa: E402
from bot.app import Timing  # noqa: E402
from tests.discussion_helpers import WPBlog, follow, mirrored  # noqa: E402
from tests.fakediscord import ChannelType, FakeDiscord  # noqa: E402
from tests.fakediscord._internals import _snowflake_time  # noqa: E402
from tests.harness import World, eventually  # noqa: E402
from tests.httpserver import LocalSite  # noqa: E402

DEFAULT_TICK = 15.0  # bot.app.Timing.poll_tick
OLD_BASE = 300.0  # bot/comments.py BASE_INTERVAL, fixed before this change
OLD_JITTER = (0.9, 1.1)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Run:
    """One configuration: the bot, its blog, and what each event waited."""

    def __init__(self, world: World, blog: WPBlog, scale: float) -> None:
        self.world, self.blog, self.scale = world, blog, scale
        self.reads: dict[int, list[float]] = {}  # post id -> when its comments were read
        listing = blog._rest_comments

        async def recorded(request):
            self.reads.setdefault(int(request.query["post"]), []).append(time.time())
            return await listing(request)

        world.site.route("/wp-json/wp/v2/comments", handler=recorded)
        self.schedule: list[float] = []  # scaled back to real seconds
        self.work: list[float] = []  # real seconds
        self.total: list[float] = []  # at the default scale: schedule + work

    def _record(self, post_id: int, at: float, done: float) -> None:
        read = min(t for t in self.reads.get(post_id, [done]) if t >= at)
        self.schedule.append((read - at) * self.scale)
        self.work.append(done - read)
        self.total.append((read - at) * self.scale + (done - read))

    async def approve(self, post, thread: int, rng: random.Random) -> None:
        held = [c for c in self.blog.comments.values() if c.post == post.id and not c.approved]
        comment = rng.choice(held)
        at = time.time()
        comment.approved = True
        link = f"<{self.blog.comment_link(comment)}>"  # whole: #comment-1 is not #comment-12

        def shown():
            for m in mirrored(self.world, thread):
                if link in (m.get("content") or ""):
                    return _snowflake_time(int(m["id"]))
            return None

        done = await eventually(shown, within=60, what="the comment shown")
        self._record(post.id, at, done)

    async def trash(self, post, thread: int, rng: random.Random) -> None:
        shown = [c for c in self.blog.comments.values() if c.post == post.id and c.approved]
        if not shown:
            return
        comment = rng.choice(shown)
        link = f"<{self.blog.comment_link(comment)}>"  # whole: #comment-1 is not #comment-12
        await eventually(
            lambda: any(link in (m.get("content") or "") for m in mirrored(self.world, thread)),
            within=60,
        )
        at = time.time()
        comment.approved = False
        await eventually(
            lambda: not any(link in (m.get("content") or "") for m in mirrored(self.world, thread)),
            within=60,
            what="the comment gone",
        )
        self._record(post.id, at, time.time())


async def one_config(tmp: Path, scale: float, interval: float, *, before: bool, args) -> tuple:
    """(approvals Run, removals Run) for one configuration."""
    stack = contextlib.AsyncExitStack()
    async with stack:
        fake = FakeDiscord()
        guild = fake.add_guild("Readers")
        text = fake.add_channel(guild, "blog", type=ChannelType.TEXT)
        await fake.start()
        stack.push_async_callback(fake.stop)
        discord.http.Route.BASE = fake.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        site = await stack.enter_async_context(LocalSite())
        world = World(fake, site, tmp / f"{interval}-{before}.sqlite3", guild, text, 0, 0, 0)
        world.poll_interval = max(1, round(interval / scale))
        # every clock of the bot, scaled
        tests.harness.FAST = Timing(
            poll_tick=DEFAULT_TICK / scale,
            delivery_tick=5.0 / scale,
            delivery_backoff=30.0 / scale,
            delivery_backoff_cap=3600.0 / scale,
            comment_wake_gap=Timing().comment_wake_gap / scale,
        )
        blog = WPBlog(site)
        await world.start()
        stack.push_async_callback(world.stop)
        watcher = world.bot.comment_watcher
        watcher.max_interval /= scale
        watcher.base_interval = interval / scale
        if before:
            watcher.base_interval = OLD_BASE / scale  # whatever the feed's interval
            bot.comments.JITTER = OLD_JITTER

            async def on_the_tick_only():
                return None

            watcher.next_due_at = on_the_tick_only
        await follow(world, blog)
        posts = [blog.publish(f"Article {n}") for n in range(args.posts)]
        for post in posts:
            for n in range(args.events):
                blog.comment(post, f"<p>Comment {n}.</p>", author=f"R{n}", approved=False)
        await world.poll_now()
        threads = await eventually(
            lambda: len(fake.threads(text)) == len(posts) and fake.threads(text), within=30
        )
        by_title = {t["name"]: int(t["id"]) for t in threads}
        by_post = {post.id: by_title[post.title] for post in posts}
        await asyncio.sleep(1.0)  # the first reads (at once, for new discussions) are done
        rng = random.Random(7)
        approvals, removals = Run(world, blog, scale), Run(world, blog, scale)
        approvals.reads = removals.reads
        pending = []
        for _ in range(args.events):
            await asyncio.sleep(rng.uniform(0, 2 * interval / scale / args.posts))
            post = rng.choice(posts)
            pending.append(asyncio.create_task(approvals.approve(post, by_post[post.id], rng)))
        await asyncio.gather(*pending)
        pending = []
        for _ in range(args.events // 2):
            await asyncio.sleep(rng.uniform(0, 2 * interval / scale / args.posts))
            post = rng.choice(posts)
            pending.append(asyncio.create_task(removals.trash(post, by_post[post.id], rng)))
        await asyncio.gather(*pending)
        return approvals, removals


def line(label: str, run: Run, interval: float) -> str:
    t = run.total
    return (
        f"  {label:<34} p50 {pct(t, 50):6.1f} s  p99 {pct(t, 99):6.1f} s  max {max(t):6.1f} s"
        f"  ({max(t) / interval:4.2f}× the interval; schedule max {max(run.schedule):6.1f} s,"
        f" work median {statistics.median(run.work) * 1000:5.0f} ms, max"
        f" {max(run.work) * 1000:5.0f} ms; {len(t)} events)"
    )


async def main(args) -> None:
    keep = bot.comments.JITTER
    with tempfile.TemporaryDirectory() as tmp:
        for interval in (300.0, 60.0):
            print(f"POLL_INTERVAL={interval:g} s (times at the default scale, 1 s = 1 s)")
            results = {}
            for before in (True, False):
                results[before] = await one_config(
                    Path(tmp), args.scale, interval, before=before, args=args
                )
                bot.comments.JITTER = keep
            for before, label in ((True, "before (fixed 300 s, on the tick)"), (False, "now")):
                approvals, removals = results[before]
                print(line(f"approved → shown, {label}", approvals, interval))
                if not before:
                    print(line(f"trashed → gone, {label}", removals, interval))
            ratio = max(results[True][0].total) / max(results[False][0].total)
            print(f"  worst wait measured, before / now: {ratio:.2f}×")
            old = OLD_BASE * OLD_JITTER[1] + DEFAULT_TICK
            new = interval * keep[1]
            print(
                f"  bound of the schedule: before {old:.0f} s (300 s × {OLD_JITTER[1]} + the"
                f" {DEFAULT_TICK:g} s tick), now {new:.0f} s ({interval:g} s × {keep[1]}),"
                f" plus the work"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=50.0, help="clocks divided by this")
    parser.add_argument(
        "--posts", type=int, default=5, help="new articles (5 at most: one check announces 5)"
    )
    parser.add_argument("--events", type=int, default=40, help="approvals (half as many trashed)")
    asyncio.run(main(parser.parse_args()))
