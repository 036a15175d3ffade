"""FakeDiscord: its state, lifecycle and the sections (mixins) it is made of."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
from aiohttp import web

from tests.fakediscord._constants import API_VERSION
from tests.fakediscord._gateway import GatewayMixin, _Connection, _Session
from tests.fakediscord._interactions import InteractionResult, InteractionsMixin
from tests.fakediscord._ratelimits import RateLimits
from tests.fakediscord._records import CommandSync, Fault, RecordedRequest, Stall
from tests.fakediscord._rest import RestMixin
from tests.fakediscord._rest_channels import ChannelRoutesMixin
from tests.fakediscord._rest_messages import MessageRoutesMixin
from tests.fakediscord._rest_roles import RoleRoutesMixin
from tests.fakediscord._rest_webhooks import WebhookRoutesMixin
from tests.fakediscord._state import StateMixin

log = logging.getLogger(__name__)


class FakeDiscord(
    StateMixin,
    GatewayMixin,
    InteractionsMixin,
    RestMixin,
    ChannelRoutesMixin,
    MessageRoutesMixin,
    RoleRoutesMixin,
    WebhookRoutesMixin,
):
    """A fake Discord REST API and gateway served by aiohttp on 127.0.0.1.

    Args:
        token: the bot token the fake accepts (``Authorization: Bot <token>``); any other
            token gets 401, which discord.py's ``login`` reports as ``LoginFailure``.
        bot_name: username of the bot user (also the name of its managed role).
        host: address to bind; keep the default.
    """

    #: Seconds the bot has to answer an interaction before the callback gets 404 (code
    #: 10062, "Unknown interaction"), as on Discord (3 s). None disables the deadline.
    interaction_deadline: float | None = 3.0
    #: Seconds Discord remembers a message's nonce for ``enforce_nonce`` (its docs: "the past
    #: few minutes"): a send with the same nonce after that creates a second message.
    nonce_window: float = 300.0

    def __init__(
        self, *, token: str = "fake-bot-token", bot_name: str = "Gazette", host: str = "127.0.0.1"
    ) -> None:
        self.token = token
        self.host = host
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._last_snowflake = 0

        # What tests read
        #: Every REST request, in arrival order.
        self.requests: list[RecordedRequest] = []
        #: Requests to routes the fake does not implement (answered 404).
        self.unhandled: list[RecordedRequest] = []
        #: Exceptions raised inside the fake's handlers (answered 599).
        self.errors: list[BaseException] = []
        #: One entry per bulk command overwrite (PUT), i.e. per ``tree.sync()``.
        self.command_syncs: list[CommandSync] = []
        #: IDENTIFY payloads received on the gateway (``d`` of op 2), in order.
        self.identifies: list[dict[str, Any]] = []
        #: Number of successful RESUMEs.
        self.resumes = 0
        #: Number of gateway connection attempts (including refused ones).
        self.gateway_attempts = 0
        #: When True, gateway WebSocket upgrades are answered with HTTP 503.
        self.refuse_gateway = False
        #: Discord's rate limits (per-route buckets, global limit); None: unlimited.
        self.rate_limits: RateLimits | None = None
        #: When True, messages the bot creates are echoed to it as MESSAGE_CREATE (as Discord does).
        self.echo_messages = True

        # State
        self.application_id = self._snowflake()
        self.bot_user_id = self.application_id
        self._users: dict[int, dict[str, Any]] = {}
        self._users[self.bot_user_id] = {
            "id": str(self.bot_user_id),
            "username": bot_name,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
            "email": None,
        }
        #: The default interacting user: owner of every guild the fake creates.
        self.owner_id = self.add_user("owner")
        self._guilds: dict[int, dict[str, Any]] = {}
        self._roles: dict[int, dict[str, Any]] = {}  # role id -> role (with "_guild_id")
        self._bot_roles: dict[int, int] = {}  # guild id -> bot's managed role id
        self._member_roles: dict[tuple[int, int], set[int]] = {}  # (guild, user) -> roles
        self._channels: dict[int, dict[str, Any]] = {}  # channels and threads
        self._messages: dict[int, dict[str, Any]] = {}
        self._channel_messages: dict[int, list[int]] = {}  # channel id -> message ids (visible)
        self._message_requests: dict[int, dict[str, Any]] = {}
        self._nonces: dict[tuple[int, str], int] = {}
        self._nonce_times: dict[tuple[int, str], float] = {}
        self._webhooks: dict[int, dict[str, Any]] = {}
        self._global_commands: dict[str, dict[str, Any]] = {}
        self._guild_commands: dict[int, dict[str, dict[str, Any]]] = {}
        self._interactions: dict[int, InteractionResult] = {}
        self._uploads: dict[str, tuple[bytes, str]] = {}  # attachment id -> (body, type)
        self._faults: list[Fault] = []
        self._stalls: list[Stall] = []

        # Gateway
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._gateway_changed = asyncio.Event()

        self._routes = self._build_routes()

    # ==================================================================================
    # Lifecycle
    # ==================================================================================

    async def start(self, port: int | None = None) -> None:
        """Start serving. Port 0 picks a free port; a restarted fake reuses its port."""
        if self._runner is not None:
            raise RuntimeError("FakeDiscord already started")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway", self._gateway_handler)
        app.router.add_route("GET", "/gateway/", self._gateway_handler)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._rest_handler)
        # files users attach to commands (InteractionsMixin.upload), as Discord's CDN
        app.router.add_route("GET", "/attachments/{aid}/{name}", self._upload_handler)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port if port is None else port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.debug("fake Discord listening on %s", self.http_base)

    async def stop(self) -> None:
        """Close gateway connections (code 1001) and stop serving. State is kept.

        A client still running keeps retrying (discord.py's backoff, up to a few seconds);
        ``start()`` again serves the same port and the client RESUMEs its session."""
        await self.close_gateway(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"{self.http_base}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """Value for ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (wrap in yarl.URL)."""
        return f"ws://{self.host}:{self.port}/gateway/"

    @contextlib.asynccontextmanager
    async def run_client(
        self,
        client: discord.Client,
        *,
        token: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> AsyncIterator[discord.Client]:
        """Log ``client`` in, connect it and wait until ready; close it cleanly on exit.

        ``client.login`` runs ``setup_hook``. The caller must have pointed discord.py at
        the fake (``Route.BASE``/``DEFAULT_GATEWAY``) beforehand. Errors from connecting
        (e.g. ``LoginFailure``) propagate.
        """
        task: asyncio.Task[None] | None = None
        try:
            await client.login(token or self.token)
            task = asyncio.create_task(client.connect(), name="fakediscord-client")
            ready = asyncio.create_task(client.wait_until_ready())
            done, _ = await asyncio.wait(
                {task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                if task in done:
                    task.result()  # raises the connection error
                    raise RuntimeError("client.connect() returned before the client was ready")
                raise TimeoutError(f"client not ready after {timeout}s")
            yield client
        finally:
            await client.close()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def assert_clean(self) -> None:
        """Raise AssertionError if a request hit an unknown route or the fake itself failed."""
        problems = [f"unhandled {r.method} {r.path}" for r in self.unhandled]
        problems += [f"fake error: {e!r}" for e in self.errors]
        assert not problems, "fake Discord: " + "; ".join(problems)
