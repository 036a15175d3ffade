"""Backfill: a blog's whole history into the archive, never announced."""

from __future__ import annotations

import time

import pytest

from bot.backfill import backfill
from bot.fetch import Fetcher, create_session
from bot.poller import FeedPoller
from tests.blog import Blog


async def test_feed_pages_walked_to_the_end_without_announcing(site, store):
    blog = Blog(site)
    for n in range(27):
        blog.publish(f"Post number {n}")
    async with create_session(allow_private=True) as session:
        fetcher = Fetcher(session)
        poller = FeedPoller(store, fetcher, default_interval=60)
        added = await poller.subscribe(blog.feed_url, guild_id=1, channel_id=10)
        assert added.stored == 10  # the feed holds only the newest ten

        seen = []

        async def progress(p):
            seen.append((p.pages, p.stored))

        feed = await store.get_feed(added.subscription.feed_id)
        result = await backfill(store, fetcher, feed, progress)
        poller.close()
    assert result.error is None and result.finished
    assert result.source == "feed pages"
    assert result.stored == 17 and result.pages == 2
    assert seen[:2] == [(1, 10), (2, 17)]  # progress as pages arrive
    assert await store.count_posts(feed.id) == 27
    assert await store.due_deliveries(time.time() + 3600) == []
    hits = await store.search(1, "number")
    assert hits.total == 27

    # a second backfill finds nothing new
    async with create_session(allow_private=True) as session:
        again = await backfill(store, Fetcher(session), feed)
    assert again.stored == 0


@pytest.mark.wordpress
@pytest.mark.parametrize("rest", ["on", "off"])
async def test_real_wordpress_history_through_rest_or_feed_pages(wp_blog, store, rest):
    await wp_blog.create_posts(
        [
            wp_blog.post_op(
                f"Story {n}",
                content=f"<p>Chapter {n} of the story.</p>",
                categories=["Tales"],
                author="Maria Editor",
                date=1_700_000_000 + n * 3600,
            )
            for n in range(23)
        ]
    )
    await wp_blog.set_rest(rest)
    async with create_session(allow_private=True) as session:
        fetcher = Fetcher(session)
        poller = FeedPoller(store, fetcher, default_interval=60)
        added = await poller.subscribe(wp_blog.url + "/", guild_id=1, channel_id=10)
        poller.close()
        assert added.stored == 10
        feed = await store.get_feed(added.subscription.feed_id)
        result = await backfill(store, fetcher, feed)
    assert result.error is None
    assert result.source == ("the WordPress REST API" if rest == "on" else "feed pages")
    assert result.stored == 13
    assert await store.count_posts(feed.id) == 23  # same keys from REST and feed: no twins
    hits = await store.search(1, "chapter", author="Maria Editor")
    assert hits.total == 23


async def test_a_post_published_during_backfill_is_left_to_be_announced(site, store):
    blog = Blog(site)
    for n in range(15):
        blog.publish(f"Post number {n}")
    async with create_session(allow_private=True) as session:
        fetcher = Fetcher(session)
        poller = FeedPoller(store, fetcher, default_interval=60)
        added = await poller.subscribe(blog.feed_url, guild_id=1, channel_id=10)
        blog.publish("Fresh while importing")  # page 1 now starts with it
        feed = await store.get_feed(added.subscription.feed_id)
        result = await backfill(store, fetcher, feed)
        assert result.stored == 5  # the older ones only
        await store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (feed.id,))
        report = await poller.poll_due()
        poller.close()
    assert report.new_posts == 1
    [owed] = await store.due_deliveries(time.time() + 1)
    assert (await store.get_post(owed.post_id)).title == "Fresh while importing"
