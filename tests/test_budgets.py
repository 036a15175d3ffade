"""Budgets per blog: a slow, huge or link-stuffed blog costs its own share and nothing more.

Feeds, pages and REST APIs are served over real HTTP on 127.0.0.1; Discord behaviour goes
over the wire to the fake Discord. Nothing here measures time: the tests wait on events.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from email.utils import formatdate
from html import escape
from urllib.parse import quote

import pytest
from aiohttp import web

from bot.backfill import Quota, backfill
from bot.batching import BatchWriter
from bot.comments import CommentWatcher
from bot.fetch import Fetcher, create_session
from bot.limits import COMMENT_MAX_PAGES, MAX_ANNOUNCE_PER_POLL, MAX_DISCOVERY_CANDIDATES
from bot.models import Entry, PollReport
from bot.poller import FeedPoller
from bot.store import Store
from bot.wordpress import find_rest_root
from tests.blog import Blog
from tests.harness import eventually, settle
from tests.httpserver import LocalSite

# =========================================================================== helpers


def rss(title: str, items: list[tuple[str, float]], base: str) -> str:
    """An RSS 2.0 feed of (title, published) items, newest first as blogs write them."""
    body = "".join(
        f"<item><title>{escape(name)}</title><link>{base}/{quote(name)}/</link>"
        f"<guid isPermaLink='false'>{base}/?p={quote(name)}</guid>"
        f"<pubDate>{formatdate(when, usegmt=True)}</pubDate>"
        "<description>text</description></item>"
        for name, when in sorted(items, key=lambda i: -i[1])
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{base}/</link><description>t</description>"
        f"{body}</channel></rss>"
    )


class Trickle:
    """A slowloris: answers 200 at once, then its body a byte at a time until released."""

    def __init__(self, body: str, released: asyncio.Event, every: float = 1.0) -> None:
        self.body = body.encode()
        self.released = released
        self.every = every
        self.started = 0
        self.in_flight = 0

    async def handler(self, request: web.Request) -> web.StreamResponse:
        self.started += 1
        self.in_flight += 1
        try:
            response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            sent = 0
            while not self.released.is_set() and sent < len(self.body) - 1:
                await response.write(self.body[sent : sent + 1])
                sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.released.wait(), self.every)
            await response.write(self.body[sent:])
            await response.write_eof()
            return response
        except ConnectionResetError:  # Gazette gave up on it
            return response
        finally:
            self.in_flight -= 1


async def listing(world) -> str:
    """Everything `/feed list` answered, as one text."""
    result = await world.command("feed list")
    parts = [m.get("content") or "" for m in result.messages]
    for embed in result.embeds + [e for m in result.messages for e in m.get("embeds", [])]:
        parts.append(embed.get("description") or "")
        parts += [f["value"] for f in embed.get("fields", [])]
    return "\n".join(parts)


# =========================================================================== item 4


async def test_a_slowloris_feed_holds_up_nothing_but_itself(gazette_world):
    world = gazette_world
    healthy = world.blog("Healthy Blog")
    slow = world.blog("Slow Blog", prefix="/slow")
    healthy.publish("Healthy before")
    slow.publish("Slow before")
    await world.start()
    world.bot.fetcher.read_timeout = 2.0  # a byte a second never trips a read timeout
    world.bot.fetcher.total_timeout = 120.0
    for blog, channel in ((healthy, world.text), (slow, world.news)):
        added = await world.command("feed add", {"url": blog.feed_url, "channel": channel})
        await eventually(lambda a=added: "History" in (a.content or ""), what="the import")

    slow.publish("Slow news")
    released = asyncio.Event()
    trickle = Trickle(slow.rss(), released)
    world.site.route("/slow/feed/", handler=trickle.handler)
    try:
        await world.poll_now()
        await eventually(lambda: trickle.in_flight, what="the slow feed being read")

        healthy.publish("Fresh while the other trickles")
        await world.poll_now()  # both due: the slow one, still in flight, is not started again
        [message] = await eventually(world.announcements, within=30, what="the healthy post")
        assert message["embeds"][0]["title"] == "Fresh while the other trickles"
        assert trickle.in_flight == 1 and trickle.started == 1
    finally:
        released.set()
    # its check is recorded as soon as it finishes, and its post announced
    [late] = await eventually(
        lambda: world.announcements(world.news), within=30, what="the slow feed's post"
    )
    assert late["embeds"][0]["title"] == "Slow news"
    assert trickle.started == 1


async def test_many_slow_feeds_hold_only_the_slots_for_slow_sites(store):
    released = asyncio.Event()
    async with (
        LocalSite() as site,
        create_session(allow_private=True, max_connections=100, max_per_host=0) as session,
    ):
        now = time.time()
        trickles = []
        for n in range(6):  # more slowloris feeds than the poller has slots
            trickle = Trickle(rss(f"Slow {n}", [("x", now)], site.origin), released, 0.2)
            site.route(f"/slow/{n}/feed", handler=trickle.handler)
            trickles.append(trickle)
        site.route("/feed", rss("Healthy", [("Hello", now)], site.origin))
        ids = []
        for path in [f"/slow/{n}/feed" for n in range(6)] + ["/feed"]:
            ids.append(await _feed(store, site.url(path)))
        healthy_id = ids[-1]
        poller = FeedPoller(
            store,
            Fetcher(session, read_timeout=5, total_timeout=120),
            default_interval=60,
            max_concurrency=4,
            max_slow=1,
            slow_after=2.0,  # far above a loopback answer, far below a trickle
        )
        healthy_done = asyncio.Event()

        async def recorded(report: PollReport) -> None:
            if report.new_posts:
                healthy_done.set()

        checks: list[asyncio.Task] = []
        try:
            # the slow feeds come first and take every ordinary slot; overrunning, one moves
            # to the single slot for slow sites, the others are given up: the healthy runs
            checks += await poller.start_due(on_recorded=recorded)
            await asyncio.wait_for(healthy_done.wait(), 30)
            feed = await store.get_feed(healthy_id)
            assert feed.last_error is None and feed.last_checked_at is not None
            await eventually(
                lambda: _slow_failures(store, ids[:-1]), within=30, what="slow feeds given up"
            )

            # next time the known slow feeds queue for their one slot: the healthy is not kept
            healthy_done.clear()
            started = sum(t.started for t in trickles)
            site.route("/feed", rss("Healthy", [("Hello", now), ("Again", now + 1)], site.origin))
            for feed_id in ids:
                await store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (feed_id,))
            checks += await poller.start_due(on_recorded=recorded)
            await asyncio.wait_for(healthy_done.wait(), 30)
            assert sum(t.started for t in trickles) - started <= 1
        finally:
            released.set()
            poller.cancel_checks()
            await eventually(lambda: all(t.done() for t in checks), what="the checks stopped")


async def test_a_blog_whose_rest_api_trickles_holds_only_the_slots_for_slow_sites(store):
    """Posts that left the feed are asked about over the blog's REST API: a REST API that
    answers a byte at a time holds up other feeds no more than a slow feed would."""
    released = asyncio.Event()
    async with (
        LocalSite() as site,
        create_session(allow_private=True, max_connections=100, max_per_host=0) as session,
    ):
        now = time.time()
        rest = Trickle(json.dumps({"status": 200, "body": {"status": "publish"}}), released)
        ids = []
        for n in range(4):  # more blogs with a trickling REST API than ordinary slots
            site.route(f"/wp-json/wp/v2/posts/{100 + n}", handler=rest.handler)
            site.route(f"/b{n}/feed", rss(f"Blog {n}", [(str(100 + n), now)], site.origin))
            ids.append(await _feed(store, site.url(f"/b{n}/feed")))
        site.route("/feed", rss("Healthy", [("Hello", now)], site.origin))
        healthy_id = await _feed(store, site.url("/feed"))
        poller = FeedPoller(
            store,
            Fetcher(session, read_timeout=5, total_timeout=120),
            default_interval=60,
            max_concurrency=2,
            max_slow=1,
            slow_after=1.0,  # far above a loopback answer, far below a trickle
        )

        async def rest_root(_site: str) -> str:
            return site.url("/wp-json/")

        poller.follow_edits(7 * 86400, rest_root)
        assert (await poller.poll_due()).new_posts == 5
        healthy_done = asyncio.Event()

        async def recorded(report: PollReport) -> None:
            if report.new_posts:
                healthy_done.set()

        checks: list[asyncio.Task] = []
        try:
            # each blog's announced post left its feed: asked about, over a trickling API
            for n in range(4):
                later = [(str(200 + n), now + 1)]
                site.route(f"/b{n}/feed", rss(f"Blog {n}", later, site.origin))
            site.route("/feed", rss("Healthy", [("Hello", now), ("Again", now + 1)], site.origin))
            for feed_id in [*ids, healthy_id]:
                await store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (feed_id,))
            checks += await poller.start_due(on_recorded=recorded)
            await asyncio.wait_for(healthy_done.wait(), 30)
            assert rest.started >= 1
        finally:
            released.set()
            poller.cancel_checks()
            await eventually(lambda: all(t.done() for t in checks), what="the checks stopped")


async def _feed(store: Store, url: str) -> int:
    feed = await store.add_feed(
        url,
        title=None,
        site_url=None,
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=0,
    )
    await store.add_subscription(feed.id, 1, 100 + feed.id)
    return feed.id


async def _slow_failures(store: Store, feed_ids: list[int]) -> bool:
    feeds = [await store.get_feed(i) for i in feed_ids]
    failed = [f for f in feeds if f.last_error]
    return len(failed) >= len(feeds) - 1 and all("slow" in f.last_error for f in failed)


# =========================================================================== item 7: announcements


async def test_a_thousand_new_posts_announce_a_few_and_archive_the_rest(gazette_world):
    world = gazette_world
    now = time.time()
    first = [("The only old post", now - 7200)]
    route = world.site.route(
        "/big/feed/", rss("Big Blog", first, world.site.origin), content_type="application/rss+xml"
    )
    await world.start()
    await world.command("feed add", {"url": world.site.url("/big/feed/"), "channel": world.text})

    fresh = [(f"New post {n:04}", now - 3600 + n) for n in range(1000)]
    route.body = rss("Big Blog", first + fresh, world.site.origin).encode()
    await world.poll_now()
    await eventually(
        lambda: len(world.announcements()) == MAX_ANNOUNCE_PER_POLL, within=30, what="a few"
    )
    await settle()
    titles = sorted(m["embeds"][0]["title"] for m in world.announcements())
    assert titles == [f"New post {n:04}" for n in range(1000 - MAX_ANNOUNCE_PER_POLL, 1000)]
    [sub] = await world.store.guild_subscriptions(world.guild)
    assert await world.store.count_posts(sub.feed_id) == 1001  # every one is in the archive
    text = await eventually(lambda: _listing_with(world, "archived"), what="the count listed")
    assert f"{1000 - MAX_ANNOUNCE_PER_POLL} new posts archived silently" in text


async def _listing_with(world, words: str) -> str | None:
    text = await listing(world)
    return text if words in text else None


# =========================================================================== item 7: discovery


async def test_a_page_with_300_feed_links_costs_a_handful_of_requests(gazette_world):
    world = gazette_world
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="F{n}" href="/f/{n}">'
        for n in range(300)
    )
    world.site.route(
        "/page", f"<html><head>{links}</head><body></body></html>", content_type="text/html"
    )
    await world.start()
    result = await world.command(
        "feed add", {"url": world.site.url("/page"), "channel": world.text}
    )
    assert "not a feed" in result.messages[-1]["content"]
    assert len(world.site.requests) == 1 + MAX_DISCOVERY_CANDIDATES


async def test_rest_discovery_tries_a_handful_of_roots(store):
    links = "".join(f'<link rel="https://api.w.org/" href="/api{n}/">' for n in range(300))
    async with LocalSite() as site, create_session(allow_private=True) as session:
        site.route("/", f"<html><head>{links}</head></html>", content_type="text/html")
        assert await find_rest_root(Fetcher(session), site.url("/")) is None
        assert len(site.requests) == 1 + MAX_DISCOVERY_CANDIDATES
        # the two places WordPress always answers are among them
        tried = {r.path + "?" + r.query_string for r in site.requests}
        assert any(p.startswith("/wp-json/?") for p in tried)
        assert any(p.startswith("/?rest_route=") for p in tried)


# =========================================================================== item 4: comments


class HostileComments:
    """A WordPress-like REST API: post 1 advertises 10,000 pages of comments, post 2 has one.

    With `hang_after_first`, post 1's pages after the first never come.
    """

    def __init__(self, site: LocalSite, *, hang_after_first: bool = False) -> None:
        self.site = site
        self.hang_after_first = hang_after_first
        self.pages: dict[int, list[int]] = {1: [], 2: []}
        site.route(
            "/",
            f'<html><head><link rel="https://api.w.org/" href="{site.url("/wp-json/")}">'
            "</head></html>",
            content_type="text/html",
        )
        site.route("/wp-json/", json.dumps({"namespaces": ["wp/v2"]}))
        site.route("/wp-json/wp/v2/comments", handler=self.comments)

    async def comments(self, request: web.Request) -> web.Response:
        post, page = int(request.query["post"]), int(request.query.get("page", "1"))
        self.pages[post].append(page)
        if post == 2:
            items, total = [self._comment(2, 1)], 1
        else:
            if page > 1 and self.hang_after_first:
                await asyncio.sleep(3600)
            items, total = [self._comment(1, page * 1000 + i) for i in range(100)], 10_000
        envelope = {"status": 200, "headers": {"X-WP-TotalPages": total}, "body": items}
        return web.json_response(envelope)

    def _comment(self, post: int, cid: int) -> dict:
        return {
            "id": cid,
            "post": post,
            "parent": 0,
            "author_name": f"Reader {cid}",
            "date_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_750_000_000 + cid)),
            "content": {"rendered": f"<p>Comment {cid}</p>"},
            "link": self.site.url(f"/p{post}/#comment-{cid}"),
            "type": "comment",
        }


async def _watched_posts(store: Store, site: LocalSite) -> list[int]:
    """Posts 1 and 2 of the site, announced with a discussion each (their comments watched)."""
    feed = await store.add_feed(
        site.url("/feed/"),
        title="WP",
        site_url=site.url("/"),
        etag=None,
        last_modified=None,
        body_hash=None,
        next_check_at=time.time() + 3600,
    )
    await store.add_subscription(feed.id, 1, 2)
    entries = [
        Entry(key=f"p{n}", title=f"Post {n}", link=site.url(f"/p{n}/"), wp_id=n) for n in (1, 2)
    ]
    for entry in entries:
        entry.published_at = time.time()
    ids = await store.store_entries(feed.id, entries, announce=True)
    for delivery in await store.due_deliveries(time.time()):
        await store.mark_delivered(delivery.id, 1000 + delivery.post_id)
        await store.set_delivery_thread(delivery.id, 2000 + delivery.post_id)
    return ids


async def test_a_post_advertising_10000_comment_pages_is_read_up_to_the_cap(store):
    async with LocalSite() as site, create_session(allow_private=True) as session:
        api = HostileComments(site)
        hostile, healthy = await _watched_posts(store, site)
        report = await CommentWatcher(store, Fetcher(session)).poll_due()
        # the first page and the newest ones, within the cap; the other post is read too
        assert len(api.pages[1]) == COMMENT_MAX_PAGES
        assert api.pages[1][0] == 1 and api.pages[1][-1] == 10_000
        assert (report.checked, report.failed) == (2, 0)
        assert (
            await store._value("SELECT count(*) FROM comments WHERE post_id = ?", (hostile,))
            == COMMENT_MAX_PAGES * 100
        )
        assert (
            await store._value("SELECT count(*) FROM comments WHERE post_id = ?", (healthy,)) == 1
        )
        watch = await store.get_comment_watch(hostile)
        assert watch.failure_count == 0 and watch.source == "rest"


async def test_a_comment_read_past_its_deadline_keeps_what_it_read(store):
    async with LocalSite() as site, create_session(allow_private=True) as session:
        api = HostileComments(site, hang_after_first=True)
        hostile, healthy = await _watched_posts(store, site)
        watcher = CommentWatcher(store, Fetcher(session), read_deadline=5.0)
        report = await watcher.poll_due()
        assert api.pages[1][:2] == [1, 9_982]  # the second page never came
        assert (report.checked, report.failed) == (2, 0)
        # the first page is kept
        assert (
            await store._value("SELECT count(*) FROM comments WHERE post_id = ?", (hostile,)) == 100
        )
        assert (
            await store._value("SELECT count(*) FROM comments WHERE post_id = ?", (healthy,)) == 1
        )
        assert (await store.get_comment_watch(hostile)).failure_count == 0


async def test_a_post_still_being_read_is_not_read_again_and_holds_up_no_other(store):
    async with LocalSite() as site, create_session(allow_private=True) as session:
        api = HostileComments(site, hang_after_first=True)
        hostile, healthy = await _watched_posts(store, site)
        watcher = CommentWatcher(store, Fetcher(session))  # a minute to read: it hangs
        read: list[int] = []

        async def recorded(report) -> None:
            read.append(report.checked)

        reads: list[asyncio.Task] = []
        try:
            reads += await watcher.start_due(on_recorded=recorded)
            await eventually(lambda: read, within=30, what="the other post's read")
            assert (
                await store._value("SELECT count(*) FROM comments WHERE post_id = ?", (healthy,))
                == 1
            )
            await eventually(lambda: len(api.pages[1]) == 2, what="the hanging page asked")
            await eventually(
                lambda: sum(not t.done() for t in reads) == 1, what="the other read finished"
            )
            (hanging,) = (t for t in reads if not t.done())  # the hostile post's read

            await store.schedule_comment_checks(0)  # both due again
            again = await watcher.start_due(on_recorded=recorded)
            reads += again
            await eventually(lambda: len(read) == 2, within=30, what="the other post read again")
            # only the other post was read again: the hostile one's first read still hangs
            assert api.pages[1] == [1, 9_982] and len(again) == 1 and not hanging.done()
        finally:
            watcher.cancel_checks()
            await eventually(lambda: all(t.done() for t in reads), what="the reads stopped")


async def test_checks_finishing_together_are_written_together_and_fail_together():
    written: list[list[int]] = []
    fail = False

    async def write(items: list[int]) -> list[int]:
        await asyncio.sleep(0)
        if fail:
            raise OSError("disk full")
        written.append(items)
        return [item * 10 for item in items]

    writer = BatchWriter(write)
    assert await asyncio.gather(*(writer.write(n) for n in range(5))) == [0, 10, 20, 30, 40]
    assert written == [[0], [1, 2, 3, 4]]  # the first alone, the others while it was written
    fail = True
    outcomes = await asyncio.gather(*(writer.write(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(o, OSError) for o in outcomes)


# =========================================================================== item 7: backfill


async def _followed(store: Store, fetcher: Fetcher, url: str):
    poller = FeedPoller(store, fetcher, default_interval=60)
    added = await poller.subscribe(url, guild_id=1, channel_id=10)
    poller.close()
    return await store.get_feed(added.subscription.feed_id)


@pytest.mark.parametrize(
    ("quota", "message", "pages", "stored"),
    [
        (Quota(pages=2), "stopped at 2 pages, the BACKFILL_MAX_PAGES limit", 2, 20),
        (Quota(posts=15), "stopped at 15 posts, the BACKFILL_MAX_POSTS limit", 2, 15),
        (Quota(megabytes=1), "stopped at 1 MB read, the BACKFILL_MAX_MB limit", 3, 30),
    ],
)
async def test_backfill_stops_at_each_quota_and_says_so(store, quota, message, pages, stored):
    async with LocalSite() as site, create_session(allow_private=True) as session:
        blog = Blog(site)
        for n in range(60):  # ~40 KB each: a page of ten is ~400 KB
            blog.publish(f"Post {n}", "<p>" + "words " * 7_000 + "</p>")
        fetcher = Fetcher(session)
        feed = await _followed(store, fetcher, blog.feed_url)
        result = await backfill(store, fetcher, feed, quota=quota)
    assert result.limit == message and result.error is None
    assert (result.pages, result.stored) == (pages, stored)
    assert await store.count_posts(feed.id) == 10 + stored


async def test_rest_backfill_of_a_site_advertising_10000_pages_stops_at_the_page_quota(store):
    requested = []

    async def posts(request: web.Request) -> web.Response:
        page = int(request.query["page"])
        requested.append(page)
        items = [
            {
                "id": page * 100 + i,
                "guid": {"rendered": f"http://x/?p={page * 100 + i}"},
                "link": f"http://x/{page * 100 + i}/",
                "title": {"rendered": f"Post {page * 100 + i}"},
                "date_gmt": "2020-01-01T00:00:00",
                "content": {"rendered": "<p>text</p>"},
            }
            for i in range(100)
        ]
        headers = {"X-WP-Total": 1_000_000, "X-WP-TotalPages": 10_000}
        return web.json_response({"status": 200, "headers": headers, "body": items})

    async with LocalSite() as site, create_session(allow_private=True) as session:
        site.route("/feed/", rss("REST blog", [("Newest", time.time())], site.origin))
        site.route("/wp-json/", json.dumps({"namespaces": ["wp/v2"]}))
        site.route("/wp-json/wp/v2/posts", handler=posts)
        fetcher = Fetcher(session)
        feed = await _followed(store, fetcher, site.url("/feed/"))
        result = await backfill(store, fetcher, feed, quota=Quota(pages=3))
    assert requested == [1, 2, 3]
    assert result.source == "the WordPress REST API"
    assert result.limit == "stopped at 3 pages, the BACKFILL_MAX_PAGES limit"
    assert result.stored == 300


async def test_backfill_quota_from_the_settings_is_shown_in_the_progress_message(gazette_world):
    world = gazette_world
    blog = world.blog()
    for n in range(40):
        blog.publish(f"Archive post {n}")
    quotas = dataclasses.replace(world.settings(), backfill_max_posts=12)
    world.settings = lambda: quotas
    await world.start()
    result = await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: "BACKFILL_MAX_POSTS" in (result.content or ""), what="the stop")
    assert "stopped at 12 posts, the BACKFILL_MAX_POSTS limit" in result.content
    [sub] = await world.store.guild_subscriptions(world.guild)
    assert await world.store.count_posts(sub.feed_id) == 10 + 12
