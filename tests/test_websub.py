"""WebSub push, over the wire: a hub on 127.0.0.1 (tests/websub_hub.py), the real bot, the
fake Discord. Honest hubs announce at once, once; hostile ones announce nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import socket
import time

import aiohttp
import pytest

import bot.websub as websub_module
from bot.config import ConfigError, Settings
from bot.feeds import parse_feed
from bot.limits import MAX_PUSH_BYTES
from bot.models import FetchResult, ParsedFeed
from bot.websub import header_links, push_links, signature_ok
from tests.harness import eventually, settle
from tests.websub_hub import PushedBlog, WebSubHub

# --------------------------------------------------------------------------- pure parts

RSS = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
    'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title>'
    "<link>https://blog.test/</link>"
    '<atom:link rel="hub" href="/hub"/><atom:link rel="self" href="https://blog.test/feed/"/>'
    "{items}</channel></rss>"
)
ITEM = "<item><title>P{n}</title><link>https://blog.test/{n}</link><guid>https://blog.test/{n}</guid><description>{pad}</description></item>"


def _rss(count: int, pad: str = "") -> bytes:
    return RSS.format(items="".join(ITEM.format(n=n, pad=pad) for n in range(count))).encode()


@pytest.mark.parametrize("pad", ["", "x" * 40_000], ids=["feedparser-rs", "feedparser"])
@pytest.mark.parametrize(
    "known", [(), {"https://blog.test/0"}, {"https://blog.test/0", "https://blog.test/1"}]
)
def test_every_parse_path_reports_hub_and_topic(pad, known):
    parsed = parse_feed(_rss(2, pad), "https://blog.test/feed/", known)
    assert (parsed.hub, parsed.topic) == ("https://blog.test/hub", "https://blog.test/feed/")


def test_atom_hub_without_self_uses_the_feed_url_and_odd_hubs_are_ignored():
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>A</title><link rel="hub" href="https://hub.test/"/>'
        '<entry><id>urn:1</id><title>x</title><link href="https://a.test/1"/></entry></feed>'
    )
    parsed = parse_feed(atom.encode(), "https://a.test/feed")
    assert (parsed.hub, parsed.topic) == ("https://hub.test/", "https://a.test/feed")
    odd = atom.replace("https://hub.test/", "javascript:alert(1)")
    assert parse_feed(odd.encode(), "https://a.test/feed").hub is None
    plain = atom.replace('rel="hub" ', "")
    assert parse_feed(plain.encode(), "https://a.test/feed").hub is None


def test_link_header_wins_over_the_document():
    header = '<https://h.test/a,b>; rel="hub", <https://t.test/feed>; rel="self"'
    assert header_links(header) == ("https://h.test/a,b", "https://t.test/feed")
    result = FetchResult("https://t.test/feed", 200, b"", None, None, None, link_header=header)
    parsed = ParsedFeed("T", None, [], hub="https://other.test/", topic="https://x.test/")
    assert push_links(result, parsed) == ("https://h.test/a,b", "https://t.test/feed")
    result.link_header = "<https://x.test/>; rel=alternate"
    assert push_links(result, parsed) == ("https://other.test/", "https://x.test/")
    assert header_links("garbage <<>>; rel=") == (None, None)


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_signatures_of_every_method_and_no_forgery(method):
    body = b"<rss/>"
    good = hmac.new(b"s3cret", body, getattr(hashlib, method)).hexdigest()
    assert signature_ok("s3cret", body, f"{method}={good}")
    assert signature_ok("s3cret", body, f"{method.upper()}={good.upper()}")
    assert not signature_ok("s3cret", body + b" ", f"{method}={good}")
    assert not signature_ok("other", body, f"{method}={good}")
    assert not signature_ok("s3cret", body, None)
    assert not signature_ok("s3cret", body, f"md5={good}")
    assert not signature_ok("s3cret", body, f"{method}=é{good}")


def test_settings_public_url_and_http_listen():
    base = {"DISCORD_TOKEN": "abc"}
    settings = Settings.from_env(base)
    assert settings.public_url is None and settings.http_listen == "127.0.0.1:8080"
    settings = Settings.from_env(
        base | {"PUBLIC_URL": "https://g.example/push/", "HTTP_LISTEN": "[::1]:9000"}
    )
    assert settings.public_url == "https://g.example/push"
    for bad in ("ftp://g.example", "https://", "https://g.example/?a=1", "g.example"):
        with pytest.raises(ConfigError, match="PUBLIC_URL"):
            Settings.from_env(base | {"PUBLIC_URL": bad})
    for bad in ("8080", "host:0", "host:70000", "a b:80", "host:port"):
        with pytest.raises(ConfigError, match="HTTP_LISTEN"):
            Settings.from_env(base | {"HTTP_LISTEN": bad})
    assert Settings.from_env(base | {"HTTP_LISTEN": ":8080"}).http_listen == ":8080"


async def test_pushes_are_bounded_per_feed_and_in_all(poller):
    """One check per feed at a time, the latest body waiting; a few feeds' pushes at once."""
    from bot.limits import MAX_PUSH_BYTES_QUEUED, MAX_PUSHES_QUEUED
    from bot.models import Feed

    def feed(n: int) -> Feed:
        return Feed(
            n,
            f"https://b{n}.test/feed",
            None,
            None,
            None,
            None,
            None,
            None,
            0,
            None,
            None,
            0,
            None,
            False,
        )

    body = _rss(1)
    # the same feed again and again: one check runs, the latest body waits for it
    assert poller.push(feed(0), body) and poller.push(feed(0), body) and poller.push(feed(0), body)
    assert poller._pushes_running == 1 and len(poller._pushed) == 1
    await eventually(lambda: poller._pushes_running == 0 and not poller._pushed)
    # many feeds: a few at once, the others told to retry (429)
    assert all(poller.push(feed(n), body) for n in range(MAX_PUSHES_QUEUED))
    assert not poller.push(feed(MAX_PUSHES_QUEUED), body)
    await eventually(lambda: poller._pushes_running == 0 and not poller._pushed)
    assert poller._push_bytes == 0
    assert not poller.push(feed(1), b" " * (MAX_PUSH_BYTES_QUEUED + 1))
    assert poller.push(feed(1), body)
    await eventually(lambda: poller._pushes_running == 0)


# --------------------------------------------------------------------------- over the wire


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def hub():
    async with WebSubHub() as running:
        yield running


@pytest.fixture
def fast_websub(monkeypatch):
    monkeypatch.setattr(websub_module, "RETRY_BASE", 0.2)
    monkeypatch.setattr(websub_module, "VERIFY_WAIT", 1.0)
    monkeypatch.setattr(websub_module, "MIN_RENEW", 0.5)


@pytest.fixture
def push_world(gazette_world, fast_websub):
    """gazette_world with PUBLIC_URL set: the bot listens on a free port of 127.0.0.1."""
    world = gazette_world
    _listen_on(world, _free_port(), "/gazette")
    return world


def _listen_on(world, port: int, path: str) -> None:
    """The world's bot started with PUBLIC_URL http://127.0.0.1:port/path from now on."""
    plain = type(world).settings

    def settings() -> Settings:
        return dataclasses.replace(
            plain(world),
            public_url=f"http://127.0.0.1:{port}{path}",
            http_listen=f"127.0.0.1:{port}",
        )

    world.settings = settings


async def _follow(world, hub, blog) -> str:
    """/feed add, then wait until the hub verified the bot's subscription: its callback."""
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    subs = await eventually(
        lambda: hub.topic_subscriptions(blog.feed_url), what="the hub's verified subscription"
    )
    await eventually(lambda: world.bot.websub.is_live(1), what="the lease recorded")
    return subs[0].callback


def _titles(world) -> list[str]:
    return [m["embeds"][0]["title"] for m in world.announcements()]


async def test_pushed_post_is_announced_at_once_and_only_once(push_world, hub):
    world = push_world
    blog = PushedBlog(world.site, hub.url)
    blog.publish("Already there")
    await world.start()
    callback = await _follow(world, hub, blog)
    [request] = hub.requests
    assert request.mode == "subscribe" and request.topic == blog.feed_url
    assert callback.startswith(world.bot.settings.public_url + "/websub/")
    assert len(callback.rsplit("/", 1)[1]) >= 40 and len(request.secret) >= 32

    blog.publish("Pushed news")
    assert await hub.publish(blog.feed_url) == [202]
    await eventually(lambda: _titles(world) == ["Pushed news"], what="the pushed announcement")

    # the next poll sees it too, a replayed delivery brings it again: still one announcement
    await world.poll_now()
    assert await hub.publish(blog.feed_url) == [202]
    await settle()
    assert _titles(world) == ["Pushed news"]

    # /feed list tells that push works, and the safety-net pace
    listing = await world.command("feed list")
    text = "\n".join(f["value"] for e in listing.embeds for f in e["fields"])
    assert "push" in text and "30 min" in text

    # a restart keeps the subscription: no new request to the hub, pushes still announced
    await world.restart()
    await settle()
    assert len(hub.requests) == 1
    blog.publish("After restart")
    await eventually(lambda: world.bot.websub.is_live(1), what="the lease loaded")
    assert await hub.publish(blog.feed_url) == [202]
    await eventually(lambda: _titles(world) == ["Pushed news", "After restart"])


async def test_a_live_push_slows_the_polls_down(push_world, hub):
    world = push_world
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    await _follow(world, hub, blog)
    await world.poll_now()
    feed = await eventually(lambda: _checked_since(world, 1), what="a check after the subscription")
    interval = feed.next_check_at - feed.last_checked_at
    assert interval > 1800 * 0.85  # POLL_INTERVAL 60 s → the 30-minute safety net


async def _checked_since(world, feed_id):
    feed = await world.store.get_feed(feed_id)
    return feed if feed.next_check_at - (feed.last_checked_at or 0) > 600 else None


async def test_hostile_deliveries_are_never_announced(push_world, hub):
    world = push_world
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    callback = await _follow(world, hub, blog)
    [sub] = hub.topic_subscriptions(blog.feed_url)
    blog.publish("Forged")
    body = blog.rss().encode()
    good = hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()

    # unsigned, wrongly signed, unknown method, signed with another key: acknowledged (§8:
    # a forger learns nothing), ignored
    assert await hub.deliver(callback, body, secret=None) == 202
    assert await hub.deliver(callback, body, secret="guess") == 202
    assert await hub.deliver(callback, body, secret=None, signature=f"md5={good}") == 202
    assert await hub.deliver(callback, body + b" ", secret=None, signature=f"sha256={good}") == 202
    # a callback never handed out: 410 Gone (the hub may drop it)
    unknown = callback.rsplit("/", 1)[0] + "/not-a-subscription"
    assert await hub.deliver(unknown, body, secret=sub.secret) == 410
    # too large, announced by its length or not
    huge = body + b" " * MAX_PUSH_BYTES
    assert await hub.deliver(callback, huge, secret=sub.secret) == 413
    async with aiohttp.ClientSession() as session:

        async def endless():
            for _ in range(MAX_PUSH_BYTES // 65536 + 2):
                yield b" " * 65536

        async with session.post(callback, data=endless()) as resp:
            assert resp.status == 413
    # garbage, signed: refused by the parser, nothing announced, the listener goes on
    assert await hub.deliver(callback, b"\x00\xff<<<", secret=sub.secret) == 202
    await settle()
    assert world.announcements() == []

    # verification requests not matching a pending request of ours: 404, nothing echoed
    other_topic = await hub.verify(callback, "subscribe", "https://elsewhere.test/feed")
    not_pending = await hub.verify(callback, "subscribe", blog.feed_url)
    wrong_mode = await hub.verify(callback, "unsubscribe", blog.feed_url)
    stranger = await hub.verify(unknown, "subscribe", blog.feed_url)
    assert [other_topic, not_pending, wrong_mode, stranger] == [(404, False)] * 4
    assert world.bot.websub.is_live(1)

    # the real thing still works
    assert await hub.deliver(callback, body, secret=sub.secret, method="sha512") == 202
    await eventually(lambda: _titles(world) == ["Forged"])


async def test_a_flood_of_deliveries_announces_each_post_once_and_polling_goes_on(push_world, hub):
    world = push_world
    blog = PushedBlog(world.site, hub.url)
    quiet = world.blog("Quiet Blog", prefix="/quiet")
    await world.start()
    callback = await _follow(world, hub, blog)
    await world.command("feed add", {"url": quiet.feed_url, "channel": world.text})
    [sub] = hub.topic_subscriptions(blog.feed_url)

    for n in range(3):
        blog.publish(f"Flood {n}")
    body = blog.rss().encode()
    statuses = await asyncio.gather(
        *(hub.deliver(callback, body, secret=sub.secret) for _ in range(200))
    )
    assert set(statuses) <= {202, 429, 503} and 202 in statuses
    quiet.publish("Polled meanwhile")
    await world.poll_now()
    await eventually(lambda: len(world.announcements()) == 4, what="four announcements")
    await settle()
    assert sorted(_titles(world)) == ["Flood 0", "Flood 1", "Flood 2", "Polled meanwhile"]


async def test_lease_renewed_before_it_ends_and_unsubscribed_on_remove(push_world, hub):
    world = push_world
    hub.lease_seconds = 2  # renewed at 1.5 s (3/4 of the lease)
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    await _follow(world, hub, blog)
    await eventually(
        lambda: [r.mode for r in hub.requests] == ["subscribe", "subscribe"],
        within=6,
        what="the renewal",
    )
    await eventually(lambda: len(hub.verifications) == 2 and all(v[2] for v in hub.verifications))
    assert world.bot.websub.is_live(1)

    [sub] = await world.store.guild_subscriptions(world.guild)
    await world.command("feed remove", {"feed": str(sub.id)})
    await eventually(lambda: hub.requests[-1].mode == "unsubscribe", what="the unsubscription")
    await eventually(lambda: not hub.subscriptions, what="the hub dropping it")
    await eventually(lambda: not world.bot.websub.is_live(1))
    assert await world.store.websub_count() == 0
    # a delivery that still comes is answered Gone
    last = hub.requests[-1]
    assert await hub.deliver(last.callback, blog.rss().encode(), secret="x") == 410


async def test_failed_subscription_is_retried_with_backoff(push_world, hub):
    world = push_world
    hub.answer = 500
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: len(hub.requests) >= 2, within=5, what="a retry")
    [lease] = [await world.store.websub_lease(hub.requests[-1].callback.rsplit("/", 1)[1])]
    assert lease.failures >= 1 and "500" in lease.last_error
    hub.answer = 202
    await eventually(lambda: hub.topic_subscriptions(blog.feed_url), within=8)
    blog.publish("Finally pushed")
    await hub.publish(blog.feed_url)
    await eventually(lambda: _titles(world) == ["Finally pushed"])


async def test_a_hub_that_never_verifies_is_asked_again_less_and_less_often(push_world, hub):
    world = push_world
    hub.verifies = False
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: len(hub.requests) >= 2, within=5, what="the request sent again")
    callback = hub.requests[-1].callback.rsplit("/", 1)[1]
    lease = await world.store.websub_lease(callback)
    assert lease.pending and lease.failures == 1 and "never verified" in lease.last_error
    assert lease.due_at - time.time() > 1.5  # VERIFY_WAIT 1 s, doubled
    assert not world.bot.websub.is_live(1)


async def test_a_denied_subscription_is_retried_later(push_world, hub):
    world = push_world
    hub.verifies = False  # it will deny instead
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: hub.requests, what="the request")
    callback = hub.requests[0].callback
    params = {"hub.mode": "denied", "hub.topic": blog.feed_url, "hub.reason": "not today"}
    async with aiohttp.ClientSession() as session, session.get(callback, params=params) as resp:
        assert resp.status == 200
    lease = await world.store.websub_lease(callback.rsplit("/", 1)[1])
    assert lease.failures == 1 and "not today" in lease.last_error and not lease.pending
    assert not world.bot.websub.is_live(1)


async def test_a_hub_on_a_private_address_is_never_contacted(push_world, hub):
    """A blog may name any hub: the same address guard as for feeds applies to it."""
    world = push_world
    world.allow_private, world.allow_hosts = False, ("127.0.0.1",)  # the blog, not "localhost"
    blog = PushedBlog(world.site, f"http://localhost:{hub.port}/hub")
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    lease = await eventually(_failed_lease(world), what="the refused request")
    assert "cannot reach the hub" in lease.last_error
    assert hub.requests == [] and not world.bot.websub.is_live(1)


def _failed_lease(world):
    async def check():
        [row] = await world.store._all("SELECT callback FROM websub") or [None]
        lease = row and await world.store.websub_lease(row[0])
        return lease if lease and lease.failures else None

    return check


async def test_without_public_url_nothing_listens_or_subscribes(gazette_world, hub):
    world = gazette_world
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    assert world.bot.websub is None
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    blog.publish("Polled as ever")
    await world.poll_now()
    await eventually(lambda: _titles(world) == ["Polled as ever"])
    assert hub.requests == []
    feed = await world.store.get_feed(1)
    assert feed.next_check_at - feed.last_checked_at < 100  # POLL_INTERVAL 60 s


async def test_a_new_public_url_resubscribes_at_once(push_world, hub):
    world = push_world
    blog = PushedBlog(world.site, hub.url)
    await world.start()
    old = await _follow(world, hub, blog)
    await world.stop()
    _listen_on(world, _free_port(), "/moved")
    await world.start()
    await eventually(lambda: len(hub.topic_subscriptions(blog.feed_url)) == 2)
    new = hub.requests[-1].callback
    assert new.startswith(world.bot.settings.public_url + "/websub/")
    assert new.rsplit("/", 1)[1] == old.rsplit("/", 1)[1]  # the same subscription, moved
    blog.publish("Via the new address")
    assert 202 in await hub.publish(blog.feed_url)  # the old address is gone: no answer
    await eventually(lambda: _titles(world) == ["Via the new address"])


async def test_a_taken_port_stops_start_up_with_one_clear_line(store, session):
    from bot.fetch import Fetcher
    from bot.poller import FeedPoller
    from bot.websub import ListenerError, WebSub

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        websub = WebSub(
            store,
            session,
            FeedPoller(store, Fetcher(session), default_interval=300),
            public_url="https://g.example",
            listen=f"127.0.0.1:{port}",
        )
        with pytest.raises(ListenerError, match=f"HTTP_LISTEN=127.0.0.1:{port}"):
            await websub.start()
        await websub.close()


@pytest.mark.wordpress
async def test_wordpress_publish_is_pushed_and_announced_once(push_world, hub, wp_blog):
    """A real WordPress that pushes (as with a WebSub plugin): publish → announced, with no
    poll, once even when the next poll sees the post too."""
    world = push_world
    await wp_blog.set_websub_hub(hub.url)
    await wp_blog.create_post("Before following")
    await world.start()
    feed_url = wp_blog.url + "/feed/"
    await world.command("feed add", {"url": feed_url, "channel": world.text})
    await eventually(lambda: hub.topic_subscriptions(feed_url), within=10, what="subscribed")
    await eventually(lambda: world.bot.websub.is_live(1), what="the lease recorded")

    await wp_blog.create_post("Pushed by WordPress")
    assert hub.published == [feed_url, feed_url]  # each publication told the hub
    await eventually(lambda: _titles(world) == ["Pushed by WordPress"], what="the push")
    await world.poll_now()
    await settle()
    assert _titles(world) == ["Pushed by WordPress"]


async def test_a_stranger_cannot_hold_the_listener_or_trick_its_paths(store, session, monkeypatch):
    """Idle or trickling connections are closed; beyond a cap, new ones are closed at once
    (thousands would take the bot's file descriptors); odd methods, paths and headers get
    plain errors, and the listener goes on answering."""
    from bot.fetch import Fetcher
    from bot.poller import FeedPoller
    from bot.websub import WebSub

    monkeypatch.setattr(websub_module, "MAX_LISTENER_CONNECTIONS", 8)
    monkeypatch.setattr(websub_module, "LISTENER_IDLE", 1.0)
    port = _free_port()
    websub = WebSub(
        store,
        session,
        FeedPoller(store, Fetcher(session), default_interval=300),
        public_url=f"http://127.0.0.1:{port}/g",
        listen=f"127.0.0.1:{port}",
    )
    await websub.start()
    base = f"http://127.0.0.1:{port}"
    try:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(8)]
        await settle(0.2)
        beyond = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        for reader, _ in beyond:  # closed at once, not after the idle time
            assert await asyncio.wait_for(reader.read(), 0.9) == b""
        trickle_reader, trickle = idle[0]
        trickle.write(b"POST /websub/x HTTP/1.1\r\nHost: a\r\n")
        for reader, _ in idle:  # closed after LISTENER_IDLE, trickling or not
            assert await asyncio.wait_for(reader.read(), 10) == b""
        for _, writer in idle + beyond:
            writer.close()
        await settle(0.2)

        async with aiohttp.ClientSession() as client:

            async def status(method: str, path: str, **kwargs) -> int:
                async with client.request(method, base + path, **kwargs) as resp:
                    return resp.status

            assert await status("GET", "/websub/unknown?hub.mode=subscribe") == 404
            assert await status("POST", "/g/websub/unknown", data=b"x") == 410
            for method in ("HEAD", "OPTIONS", "PUT", "DELETE"):
                assert await status(method, "/websub/unknown") == 405
            for path in ("/websub/../etc/passwd", "/websub/a%2F..%2Fb", "/websub/", "/x/websub/a"):
                assert await status("GET", path) in (404, 410)
            assert await status("GET", "/websub/" + "a" * 20_000) in (400, 414)
            assert await status("GET", "/websub/a", headers={"X-Big": "b" * 20_000}) in (400, 431)
    finally:
        await websub.close()
