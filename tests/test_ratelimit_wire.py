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
    """A request counts from its start to `period` after its answer: however late it arrives,
    no window of the period holds more than the limit."""
    pacer = RequestPacer(limit=5, period=0.2)
    spans: list[tuple[float, float]] = []

    async def request(latency: float) -> None:
        await pacer.start()
        began = time.monotonic()
        await asyncio.sleep(latency)
        spans.append((began, time.monotonic()))
        pacer.done()

    began = time.monotonic()
    await asyncio.gather(*(request(0.05 * (n % 3)) for n in range(12)))
    assert len(spans) == 12
    # wherever a request was counted between its start and its answer, any window of the
    # period meets at most 5 of them: look at every window starting at a start or an answer
    for edge in sorted(t for span in spans for t in span):
        meeting = [s for s in spans if s[0] < edge + 0.2 and s[1] >= edge]
        assert len(meeting) <= 5
    assert time.monotonic() - began < 1.5  # paced, not stalled
    assert pacer.waited > 0


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
