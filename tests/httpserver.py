"""A small real HTTP server on 127.0.0.1 for tests: routes that tests change while it runs.

    async with LocalSite() as site:
        site.route("/feed/", RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'})
        site.redirect("/old", "/feed/")
        url = site.url("/feed/")
        ...
        site.routes["/feed/"].status = 500          # change it at runtime
        assert site.requests[-1].headers["If-None-Match"] == '"v1"'

Every request is recorded (method, path, query string, headers) in `site.requests`.
Unknown paths get 404. A Route can delay its answer, stream it in chunks without a
Content-Length, gzip it, answer 304 to matching validators, or hand over to a handler.
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0  # seconds before anything is sent (status line included)
    chunked: bool = False  # stream without Content-Length
    chunk_size: int = 64 * 1024
    chunk_delay: float = 0.0  # seconds between chunks (with chunked=True)
    gzip: bool = False  # send the body gzip-compressed with Content-Encoding: gzip
    conditional: bool = False  # answer 304 when If-None-Match/If-Modified-Since match
    handler: Handler | None = None  # takes over completely when set


@dataclass
class RecordedRequest:
    method: str
    path: str
    query_string: str
    headers: CIMultiDictProxy[str]


class LocalSite:
    """An aiohttp.web server on 127.0.0.1, on a free port, serving mutable routes."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port: int | None = None
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> LocalSite:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalSite:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- configuring ---------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://{self.host}:{self.port}"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def route(self, path: str, body: bytes | str = b"", **options) -> Route:
        """Serve `body` at `path` (query strings are ignored when matching); replaces any."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        route = Route(body=body, **options)
        self.routes[path] = route
        return route

    def redirect(self, path: str, location: str, status: int = 302) -> Route:
        """`location` may be absolute or a path on this site."""
        return self.route(path, status=status, headers={"Location": location})

    def remove(self, path: str) -> None:
        self.routes.pop(path, None)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- serving -------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query_string=request.query_string,
                headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            )
        )
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.delay:
            await asyncio.sleep(route.delay)
        if route.handler is not None:
            return await route.handler(request)

        headers = CIMultiDict(route.headers)
        if route.content_type:
            headers["Content-Type"] = route.content_type
        if route.conditional and _not_modified(request, headers):
            return web.Response(status=304, headers=_validators(headers))

        body = route.body
        if route.gzip:
            body = gzip_module.compress(body)
            headers["Content-Encoding"] = "gzip"

        if not route.chunked:
            return web.Response(status=route.status, body=body, headers=headers)

        response = web.StreamResponse(status=route.status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), route.chunk_size):
            await response.write(body[start : start + route.chunk_size])
            if route.chunk_delay:
                await asyncio.sleep(route.chunk_delay)
        await response.write_eof()
        return response


def _validators(headers: CIMultiDict[str]) -> dict[str, str]:
    return {k: headers[k] for k in ("ETag", "Last-Modified") if k in headers}


def _not_modified(request: web.Request, headers: CIMultiDict[str]) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None and "ETag" in headers:
        return headers["ETag"] in {tag.strip() for tag in inm.split(",")} or inm.strip() == "*"
    ims = request.headers.get("If-Modified-Since")
    return ims is not None and ims == headers.get("Last-Modified")
