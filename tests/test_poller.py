"""The feed poller over a real HTTP server and a real SQLite file (no Discord here)."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from bot.fetch import Fetcher, create_session
from bot.poller import FAILURES_BEFORE_NOTICE, FeedPoller, SubscribeError
from bot.store import Store
from tests.blog import Blog

GUILD, CHANNEL = 1, 10


async def poll_now(poller: FeedPoller, store: Store):
    """Make every feed due and run one cycle."""
    for sub in await store.guild_subscriptions(GUILD):
        await store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (sub.feed_id,))
    return await poller.poll_due()


async def owed_titles(store: Store) -> list[str]:
    titles = []
    for delivery in await store.due_deliveries(time.time() + 1):
        titles.append((await store.get_post(delivery.post_id)).title)
    return titles


async def test_subscribe_stores_posts_without_announcing(site, store, poller):
    blog = Blog(site)
    for n in range(3):
        blog.publish(f"Old post {n}")
    result = await poller.subscribe(blog.home_url, guild_id=GUILD, channel_id=CHANNEL)
    assert result.feed_url == blog.feed_url  # found through <link rel="alternate">
    assert result.feed_title == "The Test Blog"
    assert result.stored == 3
    assert await owed_titles(store) == []


async def test_new_post_owed_once_and_edits_redates_reorders_are_not(site, store, poller):
    blog = Blog(site)
    first = blog.publish("First")
    await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)

    blog.publish("Second")
    report = await poll_now(poller, store)
    assert report.new_posts == 1
    assert await owed_titles(store) == ["Second"]

    # an edited title and body, a new date and a new order: same guid, nothing new owed
    first.title, first.html, first.published = "First (edited)", "<p>new</p>", time.time()
    blog.serve()
    report = await poll_now(poller, store)
    assert report.new_posts == 0
    assert await owed_titles(store) == ["Second"]


async def test_unchanged_feed_is_not_parsed_again(site, store, poller):
    blog = Blog(site)
    blog.publish("Only")
    await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    report = await poll_now(poller, store)
    assert report.unchanged == 1 and report.new_posts == 0


async def test_not_a_feed_is_refused_clearly(site, poller):
    site.route(
        "/",
        "<html><head><title>Hi</title></head><body>no feed</body></html>",
        content_type="text/html",
    )
    with pytest.raises(SubscribeError) as info:
        await poller.subscribe(site.url("/"), guild_id=GUILD, channel_id=CHANNEL)
    assert "not a feed" in str(info.value)


async def test_private_address_refused_unless_allowed(site, store):
    blog = Blog(site)
    blog.publish("Hidden")
    async with create_session(allow_private=False) as session:
        poller = FeedPoller(store, Fetcher(session), default_interval=60)
        with pytest.raises(SubscribeError) as info:
            await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    assert "private" in str(info.value).lower() or "loopback" in str(info.value).lower()
    assert await store.guild_subscriptions(GUILD) == []


@pytest.mark.parametrize("failure", ["http500", "timeout", "malformed"])
async def test_failing_feed_backs_off_and_is_reported_once(site, store, poller, failure):
    blog = Blog(site)
    blog.publish("Before the outage")
    await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    if failure == "http500":
        site.route("/feed/", "oops", status=500)
    elif failure == "timeout":
        site.route("/feed/", blog.rss(), delay=3.0)
    else:
        site.route("/feed/", "<rss><channel><item><title>broken", content_type="text/xml")

    events = []
    delays = []
    for _ in range(FAILURES_BEFORE_NOTICE + 2):
        report = await poll_now(poller, store)
        assert report.failed == 1
        events += report.events
        feed = (await store.guild_status(GUILD))[0]
        delays.append((await store.get_feed(feed.subscription.feed_id)).next_check_at - time.time())
    assert [e.kind for e in events] == ["failing"]
    # exponential backoff: each wait longer than the one before (jitter is at most 20 %)
    assert all(later > earlier for earlier, later in zip(delays, delays[1:], strict=False))
    status = (await store.guild_status(GUILD))[0]
    assert status.feed_error

    blog.serve()
    report = await poll_now(poller, store)
    assert [e.kind for e in report.events] == ["recovered"]
    report = await poll_now(poller, store)
    assert report.events == []


async def test_old_entry_appearing_late_is_archived_not_announced(site, store, poller):
    blog = Blog(site)
    blog.publish("Current")
    await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    blog.publish("From the old blog, re-imported", published=time.time() - 30 * 86400)
    blog.publish("Really new")
    report = await poll_now(poller, store)
    assert report.new_posts == 1
    assert await owed_titles(store) == ["Really new"]
    assert await store.count_posts((await store.guild_subscriptions(GUILD))[0].feed_id) == 3


async def test_a_second_follower_does_not_swallow_posts_owed_to_the_first(site, store, poller):
    blog = Blog(site)
    blog.publish("Known")
    await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    blog.publish("Published between two polls")
    # another server adds the same feed before the first one's next poll
    await poller.subscribe(blog.feed_url, guild_id=2, channel_id=20)
    due = await store.due_deliveries(time.time() + 1)
    assert [(d.guild_id, (await store.get_post(d.post_id)).title) for d in due] == [
        (GUILD, "Published between two polls")
    ]


async def test_validators_dated_this_very_second_are_not_trusted(site, store, poller):
    blog = Blog(site)
    blog.publish("First")
    await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    just_now = email.utils.formatdate(time.time(), usegmt=True)
    site.route(
        "/feed/",
        blog.rss() + "\n",  # a new body, validators dated this second
        headers={"Last-Modified": just_now, "ETag": '"same-second"'},
        conditional=True,
    )
    await poll_now(poller, store)
    feed = await store.get_feed((await store.guild_subscriptions(GUILD))[0].feed_id)
    # a post published later in that same second must not be hidden behind a 304
    assert feed.etag is None and feed.last_modified is None


async def test_a_cycle_over_many_feeds_counts_every_new_post(site, store, poller):
    blogs = [Blog(site, f"Blog {n}", prefix=f"/b{n}") for n in range(6)]
    for blog in blogs:
        blog.publish("Old")
        await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    for blog in blogs:
        blog.publish("New")
    report = await poll_now(poller, store)
    assert (report.polled, report.new_posts) == (6, 6)
    assert await owed_titles(store) == ["New"] * 6


async def test_due_feeds_are_started_a_slice_at_a_time_each_once(site, store, poller, monkeypatch):
    """More due feeds than a slice: all are started, each once in a call, even a check that
    ends unrecorded before the next slice is read (it stays due, for the next call)."""
    monkeypatch.setattr("bot.poller.START_SLICE", 2)
    blogs = [Blog(site, f"Blog {n}", prefix=f"/b{n}") for n in range(5)]
    for blog in blogs:
        blog.publish("Old")
        await poller.subscribe(blog.feed_url, guild_id=GUILD, channel_id=CHANNEL)
    await store._write("UPDATE feeds SET next_check_at = 0")
    checked: list[int] = []

    async def unrecorded(feed, _on_recorded) -> None:
        checked.append(feed.id)

    monkeypatch.setattr(poller, "_check_and_record", unrecorded)
    tasks = await poller.start_due()
    await asyncio.gather(*tasks)
    assert sorted(checked) == sorted({f.id for f in await store.due_feeds(time.time(), 10)})
    assert len(checked) == 5
