"""A small W3C WebSub hub on 127.0.0.1 for the tests, honest or hostile on demand.

    async with WebSubHub() as hub:
        blog = PushedBlog(site, hub.url)      # a Blog whose feed advertises the hub
        ... (the bot subscribes: hub.subscriptions fills once the intent is verified)
        blog.publish("News")
        await hub.publish(blog.feed_url)      # fetches the topic, POSTs it signed to each

The hub answers subscription requests 202, then verifies intent with a GET to the callback
(hub.challenge must come back); `publish` distributes the topic's current body with an
X-Hub-Signature (sha256 unless `method` says otherwise). `deliver` sends anything to a
callback (bad signatures, huge bodies, floods); `verify` sends a verification request of
one's choosing. Every subscription request is recorded in `requests`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from tests.blog import Blog
from tests.httpserver import LocalSite


@dataclass
class HubSubscription:
    callback: str
    topic: str
    secret: str | None
    lease_seconds: int


@dataclass
class HubRequest:
    mode: str
    topic: str
    callback: str
    secret: str | None
    lease_seconds: str | None


class WebSubHub:
    def __init__(self, *, lease_seconds: int | None = None) -> None:
        #: the lease granted (None: the one asked for)
        self.lease_seconds = lease_seconds
        #: status answered to subscription requests (202: accepted, verified afterwards)
        self.answer = 202
        #: whether accepted requests are verified (False: a hub that forgets them)
        self.verifies = True
        self.requests: list[HubRequest] = []
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}  # (topic, callback)
        self.verifications: list[tuple[str, int, bool]] = []  # (mode, status, echoed)
        self.published: list[str] = []  # topics publishers said changed (hub.mode=publish)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub"

    async def __aenter__(self) -> WebSubHub:
        app = web.Application()
        app.router.add_post("/hub", self._hub)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def topic_subscriptions(self, topic: str) -> list[HubSubscription]:
        return [s for (t, _), s in self.subscriptions.items() if t == topic]

    async def _hub(self, request: web.Request) -> web.Response:
        form = await request.post()
        req = HubRequest(
            mode=str(form.get("hub.mode", "")),
            topic=str(form.get("hub.topic", "")),
            callback=str(form.get("hub.callback", "")),
            secret=form.get("hub.secret"),
            lease_seconds=form.get("hub.lease_seconds"),
        )
        if req.mode == "publish":  # a publisher: the topic changed (hub.url, or hub.topic)
            topic = str(form.get("hub.url") or req.topic)
            self.published.append(topic)
            self._spawn(self.publish(topic))
            return web.Response(status=202)
        self.requests.append(req)
        if self.answer != 202 or req.mode not in ("subscribe", "unsubscribe"):
            return web.Response(status=self.answer if self.answer != 202 else 400)
        if not self.verifies:
            return web.Response(status=202)
        self._spawn(self._verify_intent(req))
        return web.Response(status=202)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _verify_intent(self, req: HubRequest) -> None:
        lease = self.lease_seconds
        if lease is None:
            lease = int(req.lease_seconds or 86400)
        status, echoed = await self.verify(req.callback, req.mode, req.topic, lease)
        self.verifications.append((req.mode, status, echoed))
        if not echoed:
            return
        if req.mode == "subscribe":
            self.subscriptions[(req.topic, req.callback)] = HubSubscription(
                req.callback, req.topic, req.secret, lease
            )
        else:
            self.subscriptions.pop((req.topic, req.callback), None)

    async def verify(
        self, callback: str, mode: str, topic: str, lease_seconds: int | None = 86400
    ) -> tuple[int, bool]:
        """A verification of intent: (status, whether the challenge came back)."""
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if lease_seconds is not None:
            params["hub.lease_seconds"] = str(lease_seconds)
        async with self._session.get(callback, params=params) as resp:
            text = await resp.text()
            return resp.status, resp.status == 200 and text == challenge

    async def publish(self, topic: str, *, method: str = "sha256") -> list[int | None]:
        """Fetch the topic and distribute it to its subscribers, signed; their statuses
        (None for a callback that could not be reached)."""
        async with self._session.get(topic) as resp:
            body = await resp.read()
            content_type = resp.headers.get("Content-Type", "application/rss+xml")
        statuses = await asyncio.gather(
            *(
                self.deliver(
                    sub.callback,
                    body,
                    secret=sub.secret,
                    method=method,
                    content_type=content_type,
                    topic=topic,
                )
                for sub in self.topic_subscriptions(topic)
            ),
            return_exceptions=True,
        )
        return [s if isinstance(s, int) else None for s in statuses]

    async def deliver(
        self,
        callback: str,
        body: bytes,
        *,
        secret: str | None,
        method: str = "sha256",
        signature: str | None = None,
        content_type: str = "application/rss+xml",
        topic: str | None = None,
    ) -> int:
        """POST `body` to a callback, signed with `secret` (or with `signature` as given)."""
        headers = {"Content-Type": content_type}
        if topic:
            headers["Link"] = f'<{self.url}>; rel="hub", <{topic}>; rel="self"'
        if signature is None and secret is not None:
            digest = hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()
            signature = f"{method}={digest}"
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        async with self._session.post(callback, data=body, headers=headers) as resp:
            return resp.status


class PushedBlog(Blog):
    """A Blog whose feed advertises a WebSub hub (as WordPress's WebSub plugin writes it)."""

    def __init__(self, site: LocalSite, hub_url: str, *args, **kwargs) -> None:
        self.hub_url = hub_url
        super().__init__(site, *args, **kwargs)

    def rss(self, page: int = 1) -> str:
        links = (
            f'<atom:link rel="hub" href="{self.hub_url}"/>'
            f'<atom:link rel="self" href="{self.feed_url}" type="application/rss+xml"/>'
        )
        return (
            super()
            .rss(page)
            .replace("<rss ", '<rss xmlns:atom="http://www.w3.org/2005/Atom" ', 1)
            .replace("<channel>", "<channel>" + links, 1)
        )
