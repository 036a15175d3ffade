"""A budget for the bot's REST requests to Discord, under Discord's global limit.

Discord lets a bot make 50 requests a second across routes (interaction callbacks and
webhooks with a token are exempt) and answers the rest with a global 429. discord.py keeps
each route's bucket from its headers, but learns of the global limit only from 429s: a burst
of announcements across 50 channels drew 298 of them in bench_e2e. Discord bans (Cloudflare)
an IP that makes 10,000 invalid requests in 10 minutes, so a burst waits its turn here instead.

Discord-free: the bot installs it on discord.py's HTTP session as an aiohttp trace, whose
request-start signal is awaited before each request (and each retry) is sent.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable

import aiohttp
import yarl

#: Discord's global limit is 50 a second; 2 are left for the difference between when a
#: request leaves and when Discord counts it (loopback under load: tens of ms)
REQUESTS_PER_SECOND = 48

# interaction callbacks and followups, and webhooks run by their token: outside the limit
_EXEMPT = re.compile(r"/(interactions/|webhooks/\d+/[^/]+)")


class RequestPacer:
    """At most `limit` requests in any `period` seconds, in the order they asked (a sliding
    log of the last `limit` starts: a fixed window of Discord's, wherever it falls, holds
    no more)."""

    def __init__(self, limit: int = REQUESTS_PER_SECOND, period: float = 1.0) -> None:
        self.limit = limit
        self.period = period
        self.waited = 0  # requests that had to wait for the budget (tests, benches)
        self._starts: deque[float] = deque(maxlen=limit)
        self._turn = asyncio.Lock()  # FIFO: first to ask, first to go

    async def wait(self) -> None:
        """Until one more request fits in the budget; it is counted from now."""
        async with self._turn:
            if len(self._starts) == self.limit:
                delay = self._starts[0] + self.period - time.monotonic()
                if delay > 0:
                    self.waited += 1
                    await asyncio.sleep(delay)
            self._starts.append(time.monotonic())

    def trace_config(self, api_base: Callable[[], str]) -> aiohttp.TraceConfig:
        """A trace that paces the requests to `api_base()` (read at each request: the bot may
        be pointed elsewhere after it is made) that count toward the global limit."""

        async def on_request_start(session, context, params) -> None:
            if counts_toward_global(params.url, api_base()):
                await self.wait()

        config = aiohttp.TraceConfig()
        config.on_request_start.append(on_request_start)
        return config


def counts_toward_global(url: yarl.URL, api_base: str) -> bool:
    """Whether a request to `url` counts toward the bot's global limit: a REST request under
    `api_base`, not an interaction's or a webhook's by token (nor the gateway, nor the CDN)."""
    base = yarl.URL(api_base)
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        return False
    prefix = base.path.rstrip("/")
    path = url.path
    if not path.startswith(prefix + "/"):
        return False
    return _EXEMPT.match(path, len(prefix)) is None
