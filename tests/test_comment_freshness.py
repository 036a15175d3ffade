"""How fresh comments are, and what proves one removed, without Discord: the check interval
of a new post is its feed's (the shortest its discussing subscriptions ask for), and removals
come only from whole reads (REST with each missing comment asked for, or a comment feed's
order).
"""

from __future__ import annotations

import asyncio
import time

from bot.comments import JITTER, CommentWatcher, removed_from_feed
from bot.fetch import Fetcher
from bot.models import Comment, Entry
from bot.store import Store
from bot.wordpress import rest_comment_shown
from tests.discussion_helpers import WPBlog, WPPost


async def _discussed(store: Store, blog: WPBlog, post: WPPost, intervals: list[int | None]):
    """The post, announced with a thread in one channel per interval (None: POLL_INTERVAL)."""
    feed = await store.add_feed(
        f"{blog.feed_url}?case={post.id}",  # a feed of its own
        title="WP",
        site_url=blog.site.url("/"),
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )
    for n, interval in enumerate(intervals):
        await store.add_subscription(feed.id, 1, 100 * post.id + n, poll_interval=interval)
    entry = Entry(
        key=f"p{post.id}",
        title=post.title,
        link=blog.link(post),
        published_at=time.time(),
        comments_feed=blog.link(post) + "feed/",
        wp_id=post.id,
    )
    [post_id] = await store.store_entries(feed.id, [entry], announce=True)
    for delivery in await store.due_deliveries(time.time()):
        await store.mark_delivered(delivery.id, 1000 + delivery.id)
        await store.set_delivery_thread(delivery.id, 2000 + delivery.id)
    return post_id


async def _next_in(store: Store, post_id: int) -> float:
    return (
        await store._value(
            "SELECT next_check_at FROM comment_watches WHERE post_id = ?", (post_id,)
        )
        - time.time()
    )


async def test_a_new_post_is_read_at_its_feeds_interval_the_shortest_winning(store, session, site):
    blog = WPBlog(site)
    fetcher = Fetcher(session)
    cases = [([900], 900), ([900, None], 120), ([None], 120), ([3600, 900], 900)]
    for intervals, expected in cases:
        post = blog.publish(f"Post {intervals}")
        post_id = await _discussed(store, blog, post, intervals)
        watcher = CommentWatcher(store, fetcher, base_interval=120)  # POLL_INTERVAL=120
        await watcher.check_post(post_id)
        watch = await store.get_comment_watch(post_id)
        assert watcher.feed_interval(watch) == expected, intervals
        # never later than the interval: a comment approved now is read within it
        wait = await _next_in(store, post_id)
        assert JITTER[0] * expected - 5 <= wait <= JITTER[1] * expected, intervals


async def test_an_older_post_is_read_less_often(store, session, site):
    blog = WPBlog(site)
    post = blog.publish("Old")
    post_id = await _discussed(store, blog, post, [None])
    watcher = CommentWatcher(store, Fetcher(session), base_interval=120)
    watch = await store.get_comment_watch(post_id)
    now = time.time()
    watch.published_at = watch.activity_at = now - 3 * 86400
    assert watcher.next_check(watch, now) - now > 10 * 120  # slowed with age ...
    assert watcher.next_check(watch, now) - now <= watcher.max_interval  # ... within the cap


def _c(cid: int, at: float) -> Comment:
    return Comment(cid, 1, None, "A", None, None, at, "<p>x</p>", f"https://b.test/#comment-{cid}")


def test_what_a_comment_feed_proves_removed():
    stored = {1: 100.0, 2: 200.0, 3: 300.0, 4: 400.0}
    # the newest missing while an older one is shown: removed
    assert removed_from_feed([_c(1, 100), _c(2, 200), _c(3, 300)], stored) == [4]
    assert removed_from_feed([_c(2, 200), _c(4, 400)], stored) == [3]
    # older than everything shown: maybe just off the feed's page
    assert removed_from_feed([_c(3, 300), _c(4, 400)], stored) == []
    # an empty feed: the post has no comment
    assert removed_from_feed([], stored) == [1, 2, 3, 4]
    # dateless items prove nothing about order
    assert removed_from_feed([_c(2, 0.0)], stored) == []


async def test_a_comment_is_proved_gone_only_by_wordpress_clear_answers(session, site):
    blog = WPBlog(site)
    post = blog.publish("P")
    shown, held, moved = (blog.comment(post) for _ in range(3))
    held.approved = False
    moved.post = 999
    fetcher = Fetcher(session)
    root = site.url("/wp-json/")
    assert await rest_comment_shown(fetcher, root, shown.id, post.id) is True
    assert await rest_comment_shown(fetcher, root, held.id, post.id) is False
    assert await rest_comment_shown(fetcher, root, moved.id, post.id) is False
    del blog.comments[shown.id]
    assert await rest_comment_shown(fetcher, root, shown.id, post.id) is False
    # anything else proves nothing: server errors, a plugin's refusal, not JSON, no route
    for status, body in ((500, "oops"), (200, "<html>"), (404, "not found")):
        site.route(f"/wp-json/wp/v2/comments/{held.id}", body, status=status)
        assert await rest_comment_shown(fetcher, root, held.id, post.id) is None
    blog.rest = "error"  # 401 rest_disabled
    assert await rest_comment_shown(fetcher, root, moved.id, post.id) is None


async def test_a_read_cut_by_its_deadline_removes_nothing(store, session, site):
    blog = WPBlog(site)
    post = blog.publish("Slow")
    comments = [blog.comment(post, f"<p>{n}</p>") for n in range(150)]
    post_id = await _discussed(store, blog, post, [None])
    watcher = CommentWatcher(store, Fetcher(session))
    assert (await watcher.check_post(post_id)).new_comments == 150
    comments[0].approved = False
    listing = blog._rest_comments

    async def second_page_hangs(request):
        if request.query.get("page") == "2":
            await asyncio.sleep(5)
        return await listing(request)

    site.route("/wp-json/wp/v2/comments", handler=second_page_hangs)
    watcher.read_deadline = 0.5
    report = await watcher.check_post(post_id)
    assert report.removed_comments == 0
    assert not site.requests_for(f"/wp-json/wp/v2/comments/{comments[0].id}")
    assert len(await store.shown_comment_dates(post_id)) == 150

    # read whole, it is proved removed
    site.route("/wp-json/wp/v2/comments", handler=listing)
    assert (await watcher.check_post(post_id)).removed_comments == 1
    assert len(await store.shown_comment_dates(post_id)) == 149
