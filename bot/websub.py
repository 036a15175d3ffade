"""WebSub (W3C Recommendation): new posts pushed by the blog's hub, announced at once.

A feed that advertises a hub (`<link rel="hub">`, `<atom:link rel="hub">` or a `Link:`
header) is subscribed to at that hub with a callback URL under PUBLIC_URL that nobody can
guess (one per subscription) and a random `hub.secret`. The hub then verifies our intent (a
GET echoed only for a request of ours still pending, for that very topic and mode) and
delivers each new version of the feed (a POST signed with HMAC over the secret). A delivery
is read as a poll reads the feed (bot.poller.FeedPoller.push: same parse, same store, same
exactly-once) and wakes the announcer at once; a post that comes both pushed and polled is
stored once, so announced once.

What a hub may send is bounded (bot.limits): body size, bodies read at once, pushes queued;
an unsigned or forged delivery is acknowledged (as the spec advises, so a forger learns
nothing) and ignored; a delivery for a callback we do not know is answered 410 Gone.

Leases are renewed before they end; a failed request is retried with backoff; a feed nobody
follows any more (or that moved to another hub) is unsubscribed. While a feed is pushed to
us, the poller checks it less often (bot.limits.PUSH_SAFETY_NET). Knows nothing of Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp
import yarl

from .config import parse_listen
from .feeds import push_url
from .limits import (
    LISTENER_IDLE,
    MAX_CHALLENGE,
    MAX_LISTENER_CONNECTIONS,
    MAX_PUSH_BYTES,
    MAX_PUSH_READS,
    PUSH_READ_DEADLINE,
    clip,
)
from .models import FetchResult, ParsedFeed, PollReport, PushLease
from .retry import retry_at
from .scheduling import KeyedTasks, create_task
from .store import StoreWriteError

if TYPE_CHECKING:
    from aiohttp import web

    from .poller import FeedPoller
    from .store import Store

log = logging.getLogger(__name__)

LEASE_ASKED = 10 * 86400  # hub.lease_seconds we ask for (the hub decides)
LEASE_ASSUMED = 86400  # when a hub's verification names none
MAX_LEASE = 365 * 86400
RENEW_AT = 0.75  # of a lease: renewed then, leaving a quarter for retries
MIN_RENEW = 60.0  # seconds: never renewed more often (a hub that grants 1-second leases)
VERIFY_WAIT = 300.0  # seconds for the hub to verify a request before it is sent again
RETRY_BASE = 60.0  # first retry of a failed request; doubles up to MAX_BACKOFF
MAX_BACKOFF = 6 * 3600.0
HUB_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10, sock_read=20)
SENDS_AT_ONCE = 16
MAX_UNSUBSCRIBE_TRIES = 5  # then the lease is left to run out
PLAN_EVERY = 15.0  # seconds between two looks at what to (un)subscribe, at most
CALLBACK_PATH = "websub"

# the signature methods of WebSub §8
_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_LINK = re.compile(r"<([^<>]*)>([^<]*)")
_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.I)

Recorded = Callable[[PollReport], Awaitable[None]]


class ListenerError(Exception):
    """The listener cannot start (HTTP_LISTEN taken or not allowed); says what to fix."""


def header_links(value: str | None) -> tuple[str | None, str | None]:
    """The first rel="hub" and rel="self" targets of a Link header, as written."""
    hub = topic = None
    for target, params in _LINK.findall(value or "")[:50]:
        rel = _REL.search(params)
        rels = (rel.group(1) or rel.group(2) or "").lower().split() if rel else ()
        if "hub" in rels and hub is None:
            hub = target
        if "self" in rels and topic is None:
            topic = target
    return hub, topic


def push_links(result: FetchResult, parsed: ParsedFeed) -> tuple[str | None, str | None]:
    """(hub, topic) of a feed just read: the Link header's first (WebSub §4), else the
    document's; (None, None) when it advertises no hub."""
    hub, topic = header_links(result.link_header)
    hub = push_url(result.url, hub)
    if hub is not None:
        return hub, push_url(result.url, topic) or result.url
    return parsed.hub, parsed.topic


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` (X-Hub-Signature: method=hex) signs `body` with `secret`; compared
    in constant time."""
    if not header:
        return False
    method, _, given = header.strip().partition("=")
    digest = _METHODS.get(method.strip().lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest().encode()
    return hmac.compare_digest(expected, given.strip().lower().encode("utf-8", "replace"))


def _lease_seconds(raw: str | None) -> int:
    try:
        seconds = int(raw or "")
    except ValueError:
        return LEASE_ASSUMED
    return min(max(seconds, 0), MAX_LEASE)


class WebSub:
    """Our subscriptions at hubs and the HTTP listener hubs call (owned by the bot)."""

    def __init__(
        self,
        store: Store,
        session: aiohttp.ClientSession,
        poller: FeedPoller,
        *,
        public_url: str,
        listen: str,
        tick: float = PLAN_EVERY,
    ) -> None:
        self.store = store
        self.session = session
        self.poller = poller
        self.public_url = public_url.rstrip("/")
        self.listen = listen
        self.tick = min(tick, PLAN_EVERY)
        self.min_renew = MIN_RENEW  # tests shorten these
        self.verify_wait = VERIFY_WAIT
        self.retry_base = RETRY_BASE
        #: told of each pushed check once it is stored (the announcer wakes its delivery)
        self.on_recorded: Recorded | None = None
        self._live: dict[int, float] = {}  # feed id → end of its verified lease
        self._sending = KeyedTasks()  # by callback: its request to the hub
        self._reads = asyncio.Semaphore(MAX_PUSH_READS)
        self._wake = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._loop_task: asyncio.Task | None = None

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on HTTP_LISTEN, then keep the subscriptions in line with the feeds."""
        self._live = await self.store.websub_live(time.time())
        if await self.store.get_meta("websub_public_url") != self.public_url:
            # hubs know the old callback addresses: every subscription is renewed at once
            await self.store.websub_renew_all(time.time())
            await self.store.set_meta("websub_public_url", self.public_url)
        # aiohttp.web only here: without PUBLIC_URL it is never loaded (1.2 MiB of RSS)
        from aiohttp import web

        from .listener import CappedSite

        app = web.Application(client_max_size=MAX_PUSH_BYTES)
        prefix = yarl.URL(self.public_url).path.rstrip("/")
        # behind a proxy that keeps PUBLIC_URL's path, and one that strips it
        for base in {"", prefix}:
            path = f"{base}/{CALLBACK_PATH}/{{callback}}"
            app.router.add_get(path, self._verify, allow_head=False)
            app.router.add_post(path, self._deliver)
        # a connection without a whole request after LISTENER_IDLE is closed (an idle one,
        # one trickling its headers); a hub's request takes well under a second
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=1.0,
            keepalive_timeout=LISTENER_IDLE,
        )
        await self._runner.setup()
        host, port = parse_listen(self.listen)
        try:
            await CappedSite(self._runner, host, port, MAX_LISTENER_CONNECTIONS).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ListenerError(f"cannot listen on HTTP_LISTEN={self.listen}: {exc}") from exc
        log.info("WebSub listener on %s for %s", self.listen, self.public_url)
        self._loop_task = create_task(self._run(), name="websub")

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            self._loop_task = None
        self._sending.cancel_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def is_live(self, feed_id: int) -> bool:
        """Whether a hub pushes this feed to us now (a verified lease not yet ended)."""
        return self._live.get(feed_id, 0.0) > time.time()

    def wake(self) -> None:
        """Look at what to (un)subscribe now (a feed was added or removed)."""
        self._wake.set()

    def callback_url(self, callback: str) -> str:
        return f"{self.public_url}/{CALLBACK_PATH}/{callback}"

    # --- subscribing ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self.plan()
            except StoreWriteError:
                pass  # logged by the store; tried again next round
            except Exception:
                log.exception("WebSub round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick)
            self._wake.clear()

    async def plan(self) -> None:
        """One round: rows in line with the feeds, then each request that is due sent."""
        now = time.time()
        await self.store.websub_plan(now)
        due = await self.store.websub_due(now, SENDS_AT_ONCE + len(self._sending))
        self._sending.start(due, lambda lease: lease.callback, self._send, SENDS_AT_ONCE)
        self._live = await self.store.websub_live(now)

    async def _send(self, lease: PushLease) -> None:
        """(Un)subscribe at the hub; its verification of intent comes to the listener."""
        now = time.time()
        if lease.mode == "unsubscribe" and (lease.lease_expires_at or 0.0) <= now:
            # never verified, or already ended: the hub delivers nothing more (and a
            # delivery that still comes is answered 410 Gone)
            await self.store.websub_forget(lease.callback)
            return
        failures, error = lease.failures, None
        if lease.pending:  # the last request was never verified: a failure too
            failures += 1
            error = f"the hub never verified the {lease.mode} request"
        # written before the request: the hub may verify before it answers
        await self.store.websub_sending(
            lease.callback, retry_at(self.verify_wait, failures, MAX_BACKOFF), failures, error
        )
        data = {
            "hub.mode": lease.mode,
            "hub.topic": lease.topic_url,
            "hub.callback": self.callback_url(lease.callback),
        }
        if lease.mode == "subscribe":
            data |= {"hub.lease_seconds": str(LEASE_ASKED), "hub.secret": lease.secret}
        try:
            async with self.session.post(
                lease.hub_url, data=data, timeout=HUB_TIMEOUT, allow_redirects=False
            ) as resp:
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            error = f"cannot reach the hub: {exc or type(exc).__name__}"
        else:
            if 200 <= status < 300:
                return  # accepted: its verification is awaited
            error = f"the hub answered {status} to {lease.mode}"
        log.info("WebSub %s of feed %s at %s: %s", lease.mode, lease.feed_id, lease.hub_url, error)
        if lease.mode == "unsubscribe" and failures >= MAX_UNSUBSCRIBE_TRIES:
            await self.store.websub_forget(lease.callback)  # its lease simply runs out
            return
        await self.store.websub_failed(
            lease.callback, error, retry_at(self.retry_base, failures, MAX_BACKOFF)
        )

    # --- the listener ---------------------------------------------------------------

    async def _verify(self, request: web.Request) -> web.Response:
        """Verification of intent (§5.3): echo hub.challenge only for a request of ours
        still pending, for that topic and mode; anything else is 404."""
        from aiohttp import web  # loaded by start()

        query = request.query
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        lease = await self.store.websub_lease(request.match_info["callback"])
        if lease is None or topic != lease.topic_url:
            return web.Response(status=404)
        if mode == "denied":  # §5.2: the hub refused the subscription
            if lease.mode == "subscribe":
                reason = clip(query.get("hub.reason", "no reason given"), 200)
                log.info("WebSub hub %s denied feed %s: %s", lease.hub_url, lease.feed_id, reason)
                await self.store.websub_failed(
                    lease.callback,
                    f"the hub denied the subscription: {reason}",
                    retry_at(self.verify_wait, lease.failures, MAX_BACKOFF),
                )
            return web.Response(status=200)
        challenge = query.get("hub.challenge", "")
        if not (lease.pending and mode == lease.mode and 0 < len(challenge) <= MAX_CHALLENGE):
            return web.Response(status=404)
        now = time.time()
        seconds = _lease_seconds(query.get("hub.lease_seconds"))
        # a lease shorter than MIN_RENEW lapses before its renewal (polled meanwhile): a hub
        # granting 0-second leases must not have us subscribe again at every round
        renew = now + max(seconds * RENEW_AT, self.min_renew)
        if not await self.store.websub_verified(lease.callback, mode, now + seconds, renew):
            return web.Response(status=404)
        if mode == "subscribe":
            self._live[lease.feed_id] = now + seconds
            log.info("WebSub: feed %s pushed by %s for %d s", lease.feed_id, lease.hub_url, seconds)
        else:
            self._live.pop(lease.feed_id, None)
        return web.Response(
            text=challenge, content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"}
        )

    async def _deliver(self, request: web.Request) -> web.Response:
        """Content distribution (§7, §8): a signed new version of the feed."""
        from aiohttp import web  # loaded by start()

        if (request.content_length or 0) > MAX_PUSH_BYTES:
            return web.Response(status=413)
        lease = await self.store.websub_lease(request.match_info["callback"])
        if lease is None or lease.mode != "subscribe":
            return web.Response(status=410)  # §7: the hub may end the subscription
        if self._reads.locked():
            return web.Response(status=503, headers={"Retry-After": "30"})
        async with self._reads:
            try:
                async with asyncio.timeout(PUSH_READ_DEADLINE):
                    body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return web.Response(status=413)
            except TimeoutError:
                return web.Response(status=408)
        if not signature_ok(lease.secret, body, request.headers.get("X-Hub-Signature")):
            # §8: ignored, yet acknowledged, so a forger learns nothing
            log.info("WebSub: unsigned or forged delivery for feed %s ignored", lease.feed_id)
            return web.Response(status=202)
        feed = await self.store.get_feed(lease.feed_id)
        if feed is None:
            return web.Response(status=410)
        if not self.poller.push(feed, body, self.on_recorded):
            return web.Response(status=429, headers={"Retry-After": "30"})
        return web.Response(status=202)


__all__ = [
    "ListenerError",
    "WebSub",
    "header_links",
    "parse_listen",
    "push_links",
    "signature_ok",
]
