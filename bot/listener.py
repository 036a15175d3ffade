"""The WebSub listener's TCP site, apart from bot.websub so that aiohttp.web is imported only
where the bot listens (PUBLIC_URL set)."""

from __future__ import annotations

import asyncio

from aiohttp import web


class _Refused(asyncio.Protocol):
    """A connection beyond the cap: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()


class CappedSite(web.TCPSite):
    """A TCP site that holds at most `cap` connections (MAX_LISTENER_CONNECTIONS): a stranger
    opening thousands (idle, or trickling headers) would otherwise take the process's file
    descriptors, and with them the bot's own requests to Discord, the blogs and SQLite.
    (A burst accepted in one go may pass the cap by its size, no more.)"""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, cap: int) -> None:
        super().__init__(runner, host, port)
        self.cap = cap

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.Protocol:
            if len(server.connections) >= self.cap:
                return _Refused()
            return server()

        self._server = await asyncio.get_running_loop().create_server(
            protocol,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
