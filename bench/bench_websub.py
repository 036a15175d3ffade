"""Publish → announced through a WebSub hub (issue #10: p99 < 2 s over 200 posts).

    python bench/bench_websub.py [--posts 200]

Everything runs in this one process: the fake Discord, a blog advertising the test hub
(tests/websub_hub.py), the hub and the real bot with PUBLIC_URL set (listening on a free
port of 127.0.0.1). For each post: the blog publishes it, the hub is told (it fetches the
topic and POSTs it, signed, to the bot's callback), and the clock stops when the
announcement is created in the fake Discord (seen by a 2 ms watcher). Posts go one at a time.

Baseline, same run, same bot and blog shape: a second blog without a hub, each post found
by a forced check (its feed made due; the poll loop, ticking every 0.1 s here, picks it up)
→ announced. Without push a post waits for the next check: POLL_INTERVAL / 2 on average
(150 s at the default 300 s), which no in-process figure shows.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_paths import open_world, pct  # noqa: E402
from tests.harness import World, eventually  # noqa: E402
from tests.websub_hub import PushedBlog, WebSubHub  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def announced_after(world: World, channel: int, count: int, t0: float) -> float:
    """Seconds from t0 until the channel holds `count` announcements."""
    deadline = time.monotonic() + 30
    while len(world.announcements(channel)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"announcement {count} never came")
        await asyncio.sleep(0.002)
    return time.perf_counter() - t0


async def bench_push(world: World, hub: WebSubHub, n: int) -> list[float]:
    blog = PushedBlog(world.site, hub.url, "Pushed Blog", prefix="/pushed")
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: hub.topic_subscriptions(blog.feed_url), within=30)
    await eventually(lambda: world.bot.websub.is_live(1), within=30)
    latencies = []
    for i in range(n):
        blog.publish(f"Pushed {i}")
        t0 = time.perf_counter()
        statuses = await hub.publish(blog.feed_url)
        assert statuses == [202], statuses
        latencies.append(await announced_after(world, world.text, i + 1, t0))
    return latencies


async def bench_poll(world: World, channel: int, n: int) -> list[float]:
    blog = world.blog("Polled Blog", prefix="/polled")
    await world.command("feed add", {"url": blog.feed_url, "channel": channel})
    [sub] = [
        s for s in await world.store.guild_subscriptions(world.guild) if s.channel_id == channel
    ]
    latencies = []
    for i in range(n):
        blog.publish(f"Polled {i}")
        t0 = time.perf_counter()
        await world.store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (sub.feed_id,))
        latencies.append(await announced_after(world, channel, i + 1, t0))
    return latencies


def line(name: str, values: list[float]) -> str:
    return (
        f"  {name:<36} p50 {pct(values, 50) * 1000:7.1f} ms  p99 {pct(values, 99) * 1000:7.1f} ms"
        f"  max {max(values) * 1000:7.1f} ms  mean {statistics.mean(values) * 1000:7.1f} ms"
        f"  ({len(values)} posts)"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=200)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        # the World's settings with PUBLIC_URL: patched on the class, before open_world starts it
        plain = World.settings

        def settings(self):
            return dataclasses.replace(
                plain(self), public_url=f"http://127.0.0.1:{port}", http_listen=f"127.0.0.1:{port}"
            )

        World.settings = settings
        async with WebSubHub() as hub:
            world, stack = await open_world(Path(tmp), channels=1)
            async with stack:
                push = await bench_push(world, hub, args.posts)
                poll = await bench_poll(world, world.bench_channels[0], args.posts)
    print(f"publish → announced, {args.posts} posts one at a time, everything in one process")
    print(line("pushed through the hub", push))
    print(line("baseline: forced check (0.1 s tick)", poll))
    print(
        f"  ratio pushed / baseline: p50 {pct(push, 50) / pct(poll, 50):.2f}x,"
        f" p99 {pct(push, 99) / pct(poll, 99):.2f}x;"
        f" goal p99 < 2 s: {'met' if pct(push, 99) < 2 else 'NOT met'}"
    )
    print("  (without push a post waits for the next check: POLL_INTERVAL / 2 on average)")


if __name__ == "__main__":
    asyncio.run(main())
