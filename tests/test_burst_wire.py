"""A burst of new posts across many channels: each channel's announcements in the outbox's
order, each with its thread, each once; also under Discord's rate limits (the fake's)."""

from __future__ import annotations

from tests.fakediscord import ChannelType, RateLimits
from tests.harness import eventually, settle

CHANNELS = 6
BLOGS_PER_CHANNEL = 2
POSTS_PER_BLOG = 3


async def _burst(world) -> tuple[list[int], int]:
    """Every channel follows its blogs, then every blog publishes at once; returns the
    channels and how many announcements are owed."""
    channels = [
        world.fake.add_channel(world.guild, f"blogs-{n}", type=ChannelType.TEXT)
        for n in range(CHANNELS)
    ]
    await world.start()
    blogs = []
    for number, channel in enumerate(channels * BLOGS_PER_CHANNEL):
        blog = world.blog(f"Blog {number}", prefix=f"/b{number}")
        blog.publish(f"Old post of blog {number}")
        result = await world.command("feed add", {"url": blog.feed_url, "channel": channel})
        assert "Blog" in result.messages[-1]["content"]
        blogs.append(blog)
    for number, blog in enumerate(blogs):
        for post in range(POSTS_PER_BLOG):
            blog.publish(f"Post {post} of blog {number}")
    await world.poll_now()
    return channels, len(blogs) * POSTS_PER_BLOG


async def _check_delivered(world, channels: list[int], owed: int) -> None:
    def announced() -> int:
        return sum(len(world.announcements(c)) for c in channels)

    await eventually(lambda: announced() >= owed, within=60, what="every announcement")
    await eventually(
        lambda: sum(len(world.fake.threads(c)) for c in channels) >= owed,
        within=30,
        what="every thread",
    )
    await settle()
    assert announced() == owed  # each once
    for channel in channels:
        messages = world.announcements(channel)
        rows = await world.store._all(
            "SELECT d.post_id, d.message_id, d.thread_id FROM deliveries d"
            " JOIN subscriptions s ON s.id = d.subscription_id WHERE s.channel_id = ?"
            " ORDER BY d.id",
            (channel,),
        )
        # in the channel, the messages come in the outbox's order, each with its thread
        assert [int(m["id"]) for m in messages] == [row["message_id"] for row in rows]
        threads = {int(t["id"]) for t in world.fake.threads(channel)}
        assert {int(m["id"]) for m in messages} == threads
        assert all(row["thread_id"] == row["message_id"] for row in rows)


async def test_burst_across_channels_in_order_with_threads(gazette_world):
    world = gazette_world
    channels, owed = await _burst(world)
    await _check_delivered(world, channels, owed)


async def test_burst_under_discord_rate_limits_still_in_order_and_once(gazette_world):
    world = gazette_world
    world.fake.rate_limits = RateLimits(global_limit=20)
    channels, owed = await _burst(world)
    await _check_delivered(world, channels, owed)
    # the limits were met: discord.py waited on the headers or was told to by a 429
    assert not world.fake.errors
