"""The bot's global request budget: a burst of announcements across many channels stays under
Discord's global limit (the fake's: 50 a second) without a single 429, every thread opened."""

from __future__ import annotations

import asyncio
import time

import yarl

from bot.discord_pacing import RequestPacer, counts_toward_global
from tests.fakediscord import ChannelType, RateLimits
from tests.harness import eventually, settle

# 30 channels × 3 posts, each an announcement and a thread: 180 requests that the channels'
# own buckets (5 per 5 s each) would let through within a second
CHANNELS = 30
POSTS_PER_CHANNEL = 3


async def test_the_pacer_never_lets_more_than_its_limit_into_any_period():
    pacer = RequestPacer(limit=5, period=0.2)
    starts: list[float] = []

    async def request() -> None:
        await pacer.wait()
        starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(request() for _ in range(12)))
    assert len(starts) == 12
    starts.sort()
    # any 6 consecutive starts span at least the period: no window holds more than 5
    assert all(starts[i + 5] - starts[i] >= 0.2 - 0.005 for i in range(len(starts) - 5))
    assert 0.4 - 0.01 <= time.monotonic() - began < 1.0  # two periods waited, not more
    assert pacer.waited == 2  # the 6th and the 11th slept; those behind them found room


def test_interactions_webhooks_gateway_and_cdn_are_not_paced():
    base = "http://127.0.0.1:8000/api/v10"

    def counts(url: str) -> bool:
        return counts_toward_global(yarl.URL(url), base)

    assert counts(f"{base}/channels/1/messages")
    assert counts(f"{base}/channels/1/messages/2/threads")
    assert counts(f"{base}/webhooks/5")  # the bot reads a webhook: its own token, counted
    assert counts(f"{base}/applications/3/commands")
    assert not counts(f"{base}/interactions/4/tok/callback")
    assert not counts(f"{base}/webhooks/5/tok?wait=1")
    assert not counts(f"{base}/webhooks/5/tok/messages/@original")
    assert not counts("ws://127.0.0.1:8000/gateway/")
    assert not counts("http://127.0.0.1:9000/api/v10/channels/1/messages")  # another host
    assert not counts("http://127.0.0.1:8000/api/v100/channels/1")


async def test_a_burst_across_channels_keeps_under_the_global_limit_without_a_429(gazette_world):
    world = gazette_world
    channels = [
        world.fake.add_channel(world.guild, f"blogs-{n}", type=ChannelType.TEXT)
        for n in range(CHANNELS)
    ]
    await world.start()
    blogs = []
    for number, channel in enumerate(channels):
        blog = world.blog(f"Blog {number}", prefix=f"/b{number}")
        blog.publish(f"Old post of blog {number}")
        result = await world.command("feed add", {"url": blog.feed_url, "channel": channel})
        assert "Blog" in result.messages[-1]["content"]
        blogs.append(blog)
    limits = world.fake.rate_limits = RateLimits()  # Discord's: 50 a second overall
    for number, blog in enumerate(blogs):
        for post in range(POSTS_PER_CHANNEL):
            blog.publish(f"Post {post} of blog {number}")
    await world.poll_now()
    owed = CHANNELS * POSTS_PER_CHANNEL

    def threads() -> int:
        return sum(len(world.fake.threads(c)) for c in channels)

    await eventually(lambda: threads() >= owed, within=60, what="every thread")
    await settle()
    assert sum(len(world.announcements(c)) for c in channels) == owed  # each once
    assert threads() == owed  # every thread opened
    assert limits.hits == {"user": 0, "global": 0}  # no 429 of any kind
    assert world.bot.pacer.waited > 0  # the budget, not luck, kept it under
    assert not world.fake.errors
