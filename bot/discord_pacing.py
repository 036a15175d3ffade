"""A budget for the bot's REST requests to Discord, under Discord's global limit.

Discord lets a bot make 50 requests a second across routes (interaction callbacks and
webhooks with a token are exempt) and answers the rest with a global 429. discord.py keeps
each route's bucket from its headers, but learns of the global limit only from 429s: a burst
of announcements across 50 channels drew 298 of them in bench_e2e. Discord bans (Cloudflare)
an IP that makes 10,000 invalid requests in 10 minutes, so a burst waits its turn here instead.

Discord-free: the bot installs it on discord.py's HTTP session as an aiohttp trace (the
`http_trace` that discord.py's Client documents), whose request-start signal aiohttp awaits
before each request, and each retry of one, is sent.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable

import aiohttp
import yarl

#: Discord's global limit is 50 a second; 2 are left for requests with the same token that
#: this process does not see (another instance during a deploy, a script)
REQUESTS_PER_SECOND = 48

# interaction callbacks and followups, and webhooks run by their token: outside the limit
_EXEMPT = re.compile(r"/(interactions/|webhooks/\d+/[^/]+)")


class RequestPacer:
    """At most `limit` requests counted in any `period` seconds, in the order they asked.

    A request holds its place from its start until `period` after its answer: Discord counts
    it somewhere in between. Counting starts alone let a burst through 60-68 a second (at
    48 a second sent) when the event loop was slow to send them (over the wire tests), and
    the fake answered global 429s; held this way, no window of Discord's, wherever it falls
    and however late a request arrives, holds more than `limit`.
    """

    def __init__(self, limit: int = REQUESTS_PER_SECOND, period: float = 1.0) -> None:
        self.limit = limit
        self.period = period
        self.waited = 0  # requests that had to wait for the budget (tests, benches)
        self._in_flight = 0
        self._answered: deque[float] = deque()  # when requests ended, the last `period`
        self._an_answer = asyncio.Event()
        self._turn = asyncio.Lock()  # FIFO: first to ask, first to go

    async def start(self) -> None:
        """Until one more request fits in the budget; it holds its place until `done`."""
        async with self._turn:
            waited = False
            while True:
                now = time.monotonic()
                while self._answered and self._answered[0] <= now - self.period:
                    self._answered.popleft()
                if self._in_flight + len(self._answered) < self.limit:
                    break
                waited = True
                if self._answered:  # room when the oldest answer is `period` old
                    await asyncio.sleep(self._answered[0] + self.period - now)
                else:  # all in flight: room `period` after the first answer
                    self._an_answer.clear()
                    await self._an_answer.wait()
            self.waited += waited
            self._in_flight += 1

    def done(self) -> None:
        """A started request was answered, or failed: its place is free `period` from now."""
        self._in_flight -= 1
        self._answered.append(time.monotonic())
        self._an_answer.set()

    def trace_config(self, api_base: Callable[[], str]) -> aiohttp.TraceConfig:
        """A trace that paces the requests to `api_base()` (read at each request: the bot may
        be pointed elsewhere after it is made) that count toward the global limit. aiohttp
        ends every request whose start it signalled with an end or an exception signal
        (cancellation included)."""

        async def on_request_start(session, context, params) -> None:
            if counts_toward_global(params.url, api_base()):
                await self.start()
                context.paced = True

        async def on_request_done(session, context, params) -> None:
            if getattr(context, "paced", False):
                context.paced = False
                self.done()

        config = aiohttp.TraceConfig()
        config.on_request_start.append(on_request_start)
        config.on_request_end.append(on_request_done)
        config.on_request_exception.append(on_request_done)
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
