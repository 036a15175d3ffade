"""bot.fetch against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import gzip
import socket
import time
from email.utils import formatdate

import aiohttp
import pytest

from bot.fetch import (
    USER_AGENT,
    BlockedAddress,
    Fetcher,
    FetchError,
    FetchTimeout,
    GuardedResolver,
    HTTPStatusError,
    TooLarge,
    create_session,
    is_blocked_address,
    parse_retry_after,
)

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>https://blog.example/one</link></item></channel></rss>"""


# --------------------------------------------------------------------------- success paths


async def test_200_then_304_with_validators(site, fetcher):
    lm = "Tue, 01 Apr 2025 10:00:00 GMT"
    site.route(
        "/feed/",
        RSS,
        content_type="application/rss+xml; charset=UTF-8",
        headers={"ETag": '"v1"', "Last-Modified": lm},
        conditional=True,
    )

    first = await fetcher.get(site.url("/feed/"))
    assert first.status == 200
    assert first.body == RSS
    assert first.etag == '"v1"'
    assert first.last_modified == lm
    assert first.content_type == "application/rss+xml; charset=UTF-8"
    assert first.url == site.url("/feed/")
    assert "If-None-Match" not in site.requests[0].headers

    second = await fetcher.get(site.url("/feed/"), etag=first.etag, last_modified=lm)
    seen = site.requests[-1].headers
    assert seen["If-None-Match"] == '"v1"'
    assert seen["If-Modified-Since"] == lm
    assert second.status == 304
    assert second.body == b""
    assert (second.etag, second.last_modified) == ('"v1"', lm)


async def test_identifies_itself_and_asks_for_feeds_and_compression(site, fetcher):
    site.route("/", RSS)
    await fetcher.get(site.url("/"))
    headers = site.requests[0].headers
    assert headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("Gazette/") and "+https://" in USER_AGENT
    assert "application/rss+xml" in headers["Accept"]
    assert "gzip" in headers["Accept-Encoding"]


async def test_gzip_body_is_decoded(site, fetcher):
    site.route("/feed", RSS, gzip=True, content_type="application/rss+xml")
    result = await fetcher.get(site.url("/feed"))
    assert result.body == RSS


async def test_redirects_are_followed_and_final_url_reported(site, fetcher):
    site.route("/feed/", RSS)
    site.redirect("/feed", "/feed/", status=301)
    site.redirect("/rss", site.url("/feed"), status=302)
    result = await fetcher.get(site.url("/rss"))
    assert result.status == 200
    assert result.url == site.url("/feed/")


async def test_redirect_cap(site, session):
    fetcher = Fetcher(session, max_redirects=3)
    for i in range(5):
        site.redirect(f"/{i}", f"/{i + 1}")
    site.route("/5", RSS)
    assert (await fetcher.get(site.url("/2"))).url == site.url("/5")  # exactly 3 hops: fine
    with pytest.raises(FetchError, match="more than 3 redirects") as info:
        await fetcher.get(site.url("/1"))  # 4 hops
    assert info.value.__cause__ is not None


# --------------------------------------------------------------------------- limits


async def test_body_over_cap_refused_by_content_length(site, session):
    fetcher = Fetcher(session, max_bytes=1024)
    site.route("/big", b"x" * 4096)
    with pytest.raises(TooLarge) as info:
        await fetcher.get(site.url("/big"))
    assert str(info.value) == "response larger than 1 KB"


async def test_body_over_cap_refused_while_streaming_chunked(site, session):
    fetcher = Fetcher(session, max_bytes=5 * 1024 * 1024)
    site.route("/big", b"x" * (6 * 1024 * 1024), chunked=True)
    with pytest.raises(TooLarge, match="larger than 5 MB"):
        await fetcher.get(site.url("/big"))


async def test_body_at_cap_is_fine(site, session):
    fetcher = Fetcher(session, max_bytes=1000)
    site.route("/exact", b"y" * 1000, chunked=True, chunk_size=100)
    assert len((await fetcher.get(site.url("/exact"))).body) == 1000


async def test_gzip_bomb_refused_after_decompression(site, session):
    fetcher = Fetcher(session, max_bytes=64 * 1024)
    site.route("/bomb", b"\0" * (1024 * 1024), gzip=True)
    assert len(gzip.compress(b"\0" * (1024 * 1024))) < 64 * 1024  # small on the wire
    with pytest.raises(TooLarge):
        await fetcher.get(site.url("/bomb"))


async def test_read_timeout_while_waiting_for_headers(site, session):
    fetcher = Fetcher(session, read_timeout=0.2, total_timeout=10)
    site.route("/slow", RSS, delay=5)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as info:
        await fetcher.get(site.url("/slow"))
    assert time.monotonic() - started < 2
    assert str(info.value) == "timed out after 0.2 s waiting for 127.0.0.1"
    assert isinstance(info.value.__cause__, aiohttp.ClientError | TimeoutError)


async def test_read_timeout_when_body_stalls(site, session):
    fetcher = Fetcher(session, read_timeout=0.2, total_timeout=10)
    site.route("/stall", b"z" * 10_000, chunked=True, chunk_size=1000, chunk_delay=5)
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        await fetcher.get(site.url("/stall"))
    assert time.monotonic() - started < 2


async def test_total_timeout_for_a_trickle(site, session):
    fetcher = Fetcher(session, read_timeout=5, total_timeout=0.5)
    site.route("/trickle", b"z" * 100, chunked=True, chunk_size=1, chunk_delay=0.05)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="took longer than 0.5 s"):
        await fetcher.get(site.url("/trickle"))
    assert time.monotonic() - started < 2


# --------------------------------------------------------------------------- HTTP errors


async def test_500_is_an_http_status_error(site, fetcher):
    site.route("/feed", "oops", status=500)
    with pytest.raises(HTTPStatusError) as info:
        await fetcher.get(site.url("/feed"))
    assert info.value.status == 500
    assert info.value.retry_after is None
    assert str(info.value) == "HTTP 500 Internal Server Error from 127.0.0.1"


async def test_404_message(site, fetcher):
    with pytest.raises(HTTPStatusError, match="^HTTP 404 Not Found from 127.0.0.1$"):
        await fetcher.get(site.url("/nothing-here"))


async def test_429_with_retry_after_seconds(site, fetcher):
    site.route("/feed", "slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as info:
        await fetcher.get(site.url("/feed"))
    assert info.value.status == 429
    assert info.value.retry_after == 120.0
    assert "429" in str(info.value)


async def test_503_with_retry_after_date(site, fetcher):
    later = formatdate(time.time() + 600, usegmt=True)
    site.route("/feed", "maintenance", status=503, headers={"Retry-After": later})
    with pytest.raises(HTTPStatusError) as info:
        await fetcher.get(site.url("/feed"))
    assert info.value.status == 503
    assert 590 <= info.value.retry_after <= 601


def test_parse_retry_after():
    now = 1_700_000_000.0
    assert parse_retry_after("30", now=now) == 30.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90)
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


async def test_connection_refused_is_a_fetch_error(fetcher):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="could not connect to 127.0.0.1") as info:
        await fetcher.get(f"http://127.0.0.1:{port}/feed")
    assert isinstance(info.value.__cause__, aiohttp.ClientError)


@pytest.mark.parametrize("url", ["ftp://blog.example/feed", "file:///etc/passwd", "feed.xml"])
async def test_only_http_and_https(fetcher, url):
    with pytest.raises(FetchError, match="not http"):
        await fetcher.get(url)


async def test_redirect_to_another_scheme_refused(site, fetcher):
    site.redirect("/feed", "ftp://blog.example/feed")
    with pytest.raises(FetchError, match="not http"):
        await fetcher.get(site.url("/feed"))


# --------------------------------------------------------------------------- private addresses


async def test_private_literal_refused_by_default(site):
    site.route("/feed", RSS)
    async with create_session(allow_private=False) as session:
        with pytest.raises(BlockedAddress) as info:
            await Fetcher(session).get(site.url("/feed"))
    assert str(info.value) == (
        "refused: 127.0.0.1 is a private address (set ALLOW_PRIVATE_FEEDS=true to allow)"
    )
    assert site.requests == []


async def test_private_name_refused_by_default(site):
    site.route("/feed", RSS)
    async with create_session(allow_private=False) as session:
        with pytest.raises(BlockedAddress, match="localhost resolves to a private address"):
            await Fetcher(session).get(f"http://localhost:{site.port}/feed")
    assert site.requests == []


async def test_allow_private_lets_local_feeds_through(site):
    site.route("/feed", RSS)
    async with create_session(allow_private=True) as session:
        assert (await Fetcher(session).get(f"http://localhost:{site.port}/feed")).body == RSS


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost:{port}/feed",  # a name: caught by the resolver
        "http://127.0.0.2:{port}/feed",  # a literal: caught before connecting
        "http://0x7f000001:{port}/feed",  # hex form, resolved by getaddrinfo to 127.0.0.1
        "http://2130706433:{port}/feed",  # decimal form
        "http://[::1]:{port}/feed",
        "http://[::ffff:127.0.0.1]:{port}/feed",
    ],
)
async def test_redirect_to_private_address_refused(site, target):
    # The first hop, 127.0.0.1, is explicitly exempted so that a redirect can be tested at all;
    # every other private host stays refused.
    site.route("/feed", RSS)
    site.redirect("/start", target.format(port=site.port))
    async with create_session(allow_private=False, allow_hosts=["127.0.0.1"]) as session:
        fetcher = Fetcher(session)
        assert (await fetcher.get(site.url("/feed"))).body == RSS  # the exemption works
        site.requests.clear()
        with pytest.raises(BlockedAddress, match="^refused: "):
            await fetcher.get(site.url("/start"))
    assert [r.path for r in site.requests] == ["/start"]


async def test_session_used_directly_is_guarded_too(site):
    async with create_session(allow_private=False) as session:
        with pytest.raises(aiohttp.ClientError) as info:  # what plain aiohttp code catches
            async with session.get(f"http://localhost:{site.port}/"):
                pass
    assert isinstance(info.value, BlockedAddress)
    assert site.requests == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
    ],
)
def test_blocked_addresses(address):
    assert is_blocked_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"]
)
def test_public_addresses(address):
    assert not is_blocked_address(address)


class _FixedResolver(aiohttp.abc.AbstractResolver):
    """Answers every lookup with fixed addresses (a name that rebinds to inside the network)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {
                "hostname": host,
                "host": a,
                "port": port,
                "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for a in self.addresses
        ]

    async def close(self):
        pass


async def test_resolver_drops_private_answers_and_keeps_public_ones():
    resolver = GuardedResolver(_FixedResolver("10.0.0.5", "93.184.216.34", "::1"))
    answers = await resolver.resolve("blog.example", 443)
    assert [a["host"] for a in answers] == ["93.184.216.34"]


async def test_resolver_refuses_a_name_with_only_private_answers():
    resolver = GuardedResolver(_FixedResolver("192.168.0.10", "fd00::1"))
    with pytest.raises(BlockedAddress, match="blog.example resolves to a private address"):
        await resolver.resolve("blog.example", 443)


async def test_injected_resolver_is_checked(site):
    # a public-looking name that resolves to loopback: refused at connection time
    async with create_session(allow_private=False, resolver=_FixedResolver("127.0.0.1")) as session:
        with pytest.raises(BlockedAddress, match="blog.test resolves to a private address"):
            await Fetcher(session).get(f"http://blog.test:{site.port}/")
    assert site.requests == []


class _NoSuchName(aiohttp.abc.AbstractResolver):
    async def resolve(self, host, port=0, family=socket.AF_INET):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self):
        pass


@pytest.mark.parametrize("allow_private", [True, False])
async def test_unknown_host_is_a_readable_error(allow_private):
    async with create_session(allow_private=allow_private, resolver=_NoSuchName()) as session:
        with pytest.raises(FetchError, match=r"^could not find blog\.test \(DNS lookup failed\)$"):
            await Fetcher(session).get("http://blog.test/feed/")
