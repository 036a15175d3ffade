"""The comment service (bot/comments.py) on its own, without Discord: reading due posts,
replies, retiring quiet posts, edits seen through comment feeds, validators, check
intervals, rendering hostile comments, webhook usernames; and the upgrade of old
announcements to discussions.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from bot.comments import CommentWatcher, check_interval
from bot.fetch import Fetcher, trustworthy_validators
from bot.models import Comment, Entry
from bot.render.comment import render_comment, webhook_username
from bot.store import Store
from bot.store.base import _migrations
from tests.discussion_helpers import WPBlog, WPPost

FIXTURES = Path(__file__).parent / "fixtures" / "discussion"
T0 = 1_750_000_000
MENTION = re.compile(r"<(@[!&]?|#)\d+>")


@pytest.fixture
def service(store, session, site):
    return store, Fetcher(session), site


async def _blog_feed(store: Store, blog: WPBlog):
    return await store.add_feed(
        blog.feed_url,
        title="WP",
        site_url=blog.site.url("/"),
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )


async def _followed_posts(store: Store, blog: WPBlog, posts: list[WPPost], *, threads=True):
    """Store the blog's posts and a discussion for each (as the announcer's trigger does)."""
    feed = await _blog_feed(store, blog)
    sub = await store.add_subscription(feed.id, 1, 2, threads=threads)
    entries = [
        Entry(
            key=f"p{p.id}",
            title=p.title,
            link=blog.link(p),
            published_at=time.time(),
            comments_feed=blog.link(p) + "feed/",
            wp_id=p.id,
        )
        for p in posts
    ]
    ids = await store.store_entries(feed.id, entries, announce=True)
    for delivery in await store.due_deliveries(time.time()):
        await store.mark_delivered(delivery.id, 1000 + delivery.post_id)
        await store.set_delivery_thread(delivery.id, 2000 + delivery.post_id)
    return ids, sub


async def test_service_reads_each_due_post_with_one_request_and_discovers_rest_once(service):
    store, fetcher, site = service
    blog = WPBlog(site)
    posts = [blog.publish(f"Post {n}") for n in range(30)]
    for p in posts[:3]:
        blog.comment(p, "<p>hi</p>")
    ids, _ = await _followed_posts(store, blog, posts)
    watcher = CommentWatcher(store, fetcher)
    # new posts have no comments yet: no discussion waits to be mirrored
    assert await store.due_mirrors(time.time() + 1, 0, 100) == []

    report = await watcher.poll_due()
    assert report.checked == 30 and report.new_comments == 3 and report.failed == 0
    assert report.requests == 30 + 2  # one per post, plus the site's REST discovery
    assert len(site.requests_for("/")) == 1
    # the discussions know they have comments to show, and only those
    waiting = [d for d in await store.due_mirrors(time.time() + 1, 0, 100)]
    assert sorted(d.post_id for d in waiting) == sorted(ids[:3])
    with_items = [d.post_id for d in waiting if await store.mirror_items(d.id)]
    assert sorted(with_items) == sorted(ids[:3])

    # not due again before their time; made due, unchanged posts cost one request each
    assert (await watcher.poll_due()).checked == 0
    await store.schedule_comment_checks(0)
    again = await watcher.poll_due()
    assert (again.checked, again.unchanged, again.requests) == (30, 30, 30)


async def test_comments_read_before_an_announcement_is_sent_are_mirrored_in_its_thread(service):
    """Two servers follow the blog; one server's announcement goes out late (a retry): the
    comments read meanwhile for the other server's thread are owed to its thread too."""
    store, fetcher, site = service
    blog = WPBlog(site)
    post = blog.publish("Commented before one server saw it")
    blog.comment(post, "<p>first!</p>")
    feed = await _blog_feed(store, blog)
    early = await store.add_subscription(feed.id, 1, 2, threads=True)
    late = await store.add_subscription(feed.id, 3, 4, threads=True)
    entry = Entry(
        key="p1",
        title=post.title,
        link=blog.link(post),
        published_at=time.time(),
        comments_feed=blog.link(post) + "feed/",
        wp_id=post.id,
    )
    (post_id,) = await store.store_entries(feed.id, [entry], announce=True)
    deliveries = {d.subscription_id: d for d in await store.due_deliveries(time.time())}
    await store.mark_delivered(deliveries[early.id].id, 1000, 2000)
    assert (await CommentWatcher(store, fetcher).poll_due()).new_comments == 1

    await store.mark_delivered(deliveries[late.id].id, 3000, followups_owed=True)
    waiting = {d.subscription_id: d for d in await store.due_mirrors(time.time() + 1, 0, 100)}
    assert set(waiting) == {early.id, late.id}
    items = await store.mirror_items(waiting[late.id].id)
    assert [item.comment.content_html.strip() for item in items] == ["<p>first!</p>"]


async def test_service_keeps_a_reply_parent_and_survives_a_broken_post(service):
    store, fetcher, site = service
    blog = WPBlog(site)
    good, broken = blog.publish("Good"), blog.publish("Broken")
    a = blog.comment(good, "<p>a</p>", author="A")
    blog.comment(good, "<p>b</p>", author="B", parent=a)
    ids, _ = await _followed_posts(store, blog, [good, broken])
    site.route(f"/{broken.id}/feed/", "not a feed", status=500)
    blog.rest = "off"
    watcher = CommentWatcher(store, fetcher)
    report = await watcher.poll_due()
    assert (report.checked, report.failed, report.new_comments) == (2, 1, 2)
    stored = await store._all(
        "SELECT author, parent_id FROM comments WHERE post_id = ?"
        " ORDER BY published_at, comment_id",
        (ids[0],),
    )
    assert [tuple(row) for row in stored] == [("A", None), ("B", a.id)]
    watch = await store.get_comment_watch(ids[1])
    assert watch.failure_count == 1


async def test_service_retires_posts_whose_discussions_are_no_longer_live(service):
    store, fetcher, site = service
    blog = WPBlog(site)
    ids, _ = await _followed_posts(store, blog, [blog.publish("Quiet")])
    watcher = CommentWatcher(store, fetcher, live_days=-1)  # everything is already too old
    report = await watcher.poll_due()
    assert (report.retired, report.checked, report.requests) == (1, 0, 0)
    await store.schedule_comment_checks(0)  # only followed posts are made due
    assert (await watcher.poll_due()).retired == 0
    # talk in its thread wakes it up
    assert await store.touch_thread(2000 + ids[0], time.time())
    assert (await store.get_comment_watch(ids[0])) is not None
    assert (await CommentWatcher(store, fetcher).poll_due()).checked == 1


async def test_service_reads_comment_feeds_whole_now_and_then_to_see_edits(service):
    store, fetcher, site = service
    blog = WPBlog(site, rest="off")
    post = blog.publish("Feed only")
    c = blog.comment(post, "<p>Frist</p>", author="Ann")
    ids, _ = await _followed_posts(store, blog, [post])
    feed = f"/{post.id}/feed/"
    assert (await CommentWatcher(store, fetcher).poll_due()).new_comments == 1

    c.html = "<p>First (edited)</p>"  # WordPress's Last-Modified does not move on an edit
    await store.schedule_comment_checks(0)
    soon = await CommentWatcher(store, fetcher).poll_due()
    assert site.requests_for(feed)[-1].headers.get("If-None-Match")
    assert (soon.unchanged, soon.edited_comments) == (1, 0)  # a 304 hides the edit ...

    await store.schedule_comment_checks(0)
    later = await CommentWatcher(store, fetcher, full_every=0).poll_due()  # ... until read whole
    assert "If-None-Match" not in site.requests_for(feed)[-1].headers
    assert later.edited_comments == 1
    html = await store._value("SELECT content_html FROM comments WHERE post_id = ?", (ids[0],))
    assert "edited" in html


def test_fresh_validators_are_not_trusted():
    now = 1_800_000_000.0
    assert trustworthy_validators(formatdate(now - 60, usegmt=True), now)
    assert not trustworthy_validators(formatdate(now, usegmt=True), now)
    assert not trustworthy_validators("yesterday-ish", now)
    assert trustworthy_validators(None, now)


async def test_announcements_sent_before_the_upgrade_keep_their_threads(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for number, _, sql in _migrations():
        if number <= 2:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.executescript(
        "INSERT INTO feeds(id, url, created_at) VALUES (1, 'http://blog.test/feed/', 0);"
        "INSERT INTO subscriptions(id, feed_id, guild_id, channel_id, created_at)"
        " VALUES (1, 1, 10, 20, 0);"
        "INSERT INTO posts(id, feed_id, entry_key, discovered_at)"
        " VALUES (1, 1, 'a', 0), (2, 1, 'b', 0);"
        "INSERT INTO deliveries(post_id, subscription_id, state, nonce, message_id, thread_id,"
        " created_at, sent_at) VALUES (1, 1, 'sent', 'n1', 500, 500, 0, 0),"
        " (2, 1, 'sent', 'n2', 600, NULL, 0, 0);"
    )
    conn.close()
    store = await Store.open(path)
    try:
        [discussion] = await store.post_discussions(1)
        assert (discussion.thread_id, discussion.state) == (500, "open")
        assert await store.post_discussions(2) == []
        assert await store.get_comment_watch(1) is not None
    finally:
        await store.close()


def test_checks_slow_down_with_age():
    hour, day = 3600, 86400
    steps = [check_interval(age) for age in (0, hour, day, 3 * day, 7 * day, 14 * day)]
    assert steps == sorted(steps) and steps[0] == 300 and 4 * hour < steps[-1] <= 6 * hour
    assert check_interval(60 * day) == 6 * hour
    assert check_interval(day) < 1800


def test_rendering_fixture_comments():
    cases = json.loads((FIXTURES / "hostile-comments.json").read_text(encoding="utf-8"))
    for case in cases:
        comment = Comment(
            id=case["id"],
            post_wp_id=1,
            parent_id=case.get("parent"),
            author=case["author"],
            author_url=case.get("author_url"),
            avatar_url=None,
            published_at=T0,
            content_html=case["html"],
            link=f"https://blog.test/p/#comment-{case['id']}",
        )
        rendered = render_comment(comment, parent_author=case.get("parent_author"))
        content = rendered.as_content()
        description = rendered.as_description()
        assert len(content) <= 2000 and len(description) <= 4096, case["why"]
        for text in (content, description, rendered.author, rendered.username):
            assert "@everyone" not in text and "@here" not in text, case["why"]
            assert not MENTION.search(text), case["why"]
        assert content.endswith(f"<t:{T0}:f>"), case["why"]
        assert 1 <= len(rendered.username) <= 80, case["why"]
        for word in ("discord", "clyde"):
            assert word not in rendered.username.lower(), case["why"]
        for expected in case.get("expect", []):
            assert expected in content, case["why"]


def test_webhook_usernames():
    assert webhook_username("Ann") == "Ann"
    assert webhook_username("  ") == "Anonymous"
    assert webhook_username("everyone") == "everyone (comment)"
    assert len(webhook_username("x" * 200)) == 80
