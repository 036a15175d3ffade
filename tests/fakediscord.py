"""A fake Discord (REST API + gateway) on 127.0.0.1 for over-the-wire tests.

The real discord.py client talks to it exactly as it talks to Discord: HTTP requests, the
gateway WebSocket and interaction callbacks all go over loopback, so tests exercise the
code paths that break in production. Nothing here mocks discord.py.

Typical use (see ``tests/fakediscord_fixtures.py`` for the ``fake_discord`` fixture that
does the start/stop and points discord.py at the fake)::

    fake = FakeDiscord()
    guild = fake.add_guild("Blog fans")
    news = fake.add_channel(guild, "news", type=ChannelType.NEWS)
    await fake.start()
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

    async with fake.run_client(bot):            # login + connect + wait until ready
        await bot.tree.sync(guild=discord.Object(guild))
        result = await fake.invoke(guild, news, "feed add", options={"url": "https://x"})
        assert result.ephemeral and "Added" in result.content
        assert fake.messages(news)[0]["content"] == "..."
    await fake.stop()

Conventions:

* Ids are ``int`` in this module's API and strings (snowflakes) on the wire. Stored objects
  (guilds, channels, messages, ...) are the wire-format dicts, returned live: read them,
  don't mutate them (use the state methods, which also tell connected clients).
* State can be built before or after :meth:`FakeDiscord.start`. Changes made while a client
  is connected are dispatched to it (CHANNEL_CREATE, GUILD_ROLE_UPDATE, ...), in order.
* The fake enforces what Discord enforces where a bot can get it wrong: message and embed
  limits (400, code 50035), empty messages (50006), the bot's permissions in the channel
  (403, codes 50001/50013), unknown channels/messages (404, 10003/10008), interactions
  answered twice (40060) or too late (``interaction_deadline``, 10062), autocomplete
  choice limits, nonce deduplication, role mentions only when allowed.
* Every request is recorded in :attr:`FakeDiscord.requests`. Requests to routes the fake
  does not know get a 404 and are listed in :attr:`FakeDiscord.unhandled`; bugs inside the
  fake answer status 599 and are listed in :attr:`FakeDiscord.errors`.
  :meth:`FakeDiscord.assert_clean` checks both lists are empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
from aiohttp import web

log = logging.getLogger(__name__)

API_VERSION = 10
DISCORD_EPOCH_MS = 1420070400000
HEARTBEAT_INTERVAL_MS = 41250

__all__ = [
    "ALL_PERMISSIONS",
    "CallbackType",
    "ChannelType",
    "CommandSync",
    "Fault",
    "FakeDiscord",
    "InteractionResult",
    "InteractionTimeout",
    "MessageFlag",
    "Perm",
    "RecordedRequest",
    "Stall",
]


# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------


class ChannelType:
    """Discord channel type numbers."""

    TEXT = 0
    CATEGORY = 4
    NEWS = 5  # announcement channel
    NEWS_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    FORUM = 15
    MEDIA = 16

    THREADS = frozenset({NEWS_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
    FORUMS = frozenset({FORUM, MEDIA})


class CallbackType:
    """Interaction callback (response) types, as in ``InteractionResult.type``."""

    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class MessageFlag:
    CROSSPOSTED = 1 << 0
    SUPPRESS_EMBEDS = 1 << 2
    HAS_THREAD = 1 << 5
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7


class Perm:
    """Permission bits the fake checks (same values as ``discord.Permissions``)."""

    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = discord.Permissions.all().value

#: Permissions of a new guild's @everyone role.
DEFAULT_EVERYONE_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.ADD_REACTIONS
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)

#: Permissions of the bot's own (managed) role in a new guild: what a feed bot is invited with.
DEFAULT_BOT_PERMISSIONS = (
    DEFAULT_EVERYONE_PERMISSIONS
    | Perm.MANAGE_MESSAGES
    | Perm.MANAGE_THREADS
    | Perm.MANAGE_WEBHOOKS
    | Perm.MENTION_EVERYONE
)

THREAD_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)

_INTERACTION_APPLICATION_COMMAND = 2
_INTERACTION_COMPONENT = 3
_INTERACTION_AUTOCOMPLETE = 4
_INTERACTION_MODAL_SUBMIT = 5

_OPTION_SUBCOMMAND = 1
_OPTION_GROUP = 2
_OPTION_STRING = 3
_OPTION_INTEGER = 4
_OPTION_BOOLEAN = 5
_OPTION_USER = 6
_OPTION_CHANNEL = 7
_OPTION_ROLE = 8
_OPTION_MENTIONABLE = 9
_OPTION_NUMBER = 10
_OPTION_ATTACHMENT = 11

_MENTION_RE = re.compile(r"<@!?(\d+)>|<@&(\d+)>|@(everyone|here)")


# --------------------------------------------------------------------------------------
# Records returned to tests
# --------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One REST request the fake received.

    Unpacks like the tuple ``(method, path, json, headers)``.
    """

    method: str
    #: Path relative to ``api_base``, without query, e.g. ``"/channels/12/messages"``.
    path: str
    #: Parsed JSON body (``payload_json`` of a multipart body), or None.
    json: Any
    headers: dict[str, str]
    query: dict[str, str]
    #: Files of a multipart body: ``{"field", "filename", "size", "content_type"}``.
    files: list[dict[str, Any]] = field(default_factory=list)
    #: Status the fake answered (0 while the request is being handled).
    status: int = 0

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.json, self.headers))


@dataclass
class Fault:
    """An injected error answer; see :meth:`FakeDiscord.fail` and :meth:`FakeDiscord.rate_limit`."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    #: Answers left; None means forever.
    remaining: int | None
    #: How many requests it answered so far.
    hits: int = 0
    #: Only requests whose JSON body this returns true for (None: every request).
    when: Callable[[Any], bool] | None = None

    def matches(self, method: str, path: str, body: Any = None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method != "*" and self.method != method:
            return False
        if self.pattern.fullmatch(path) is None:
            return False
        return self.when is None or bool(self.when(body))


@dataclass
class Stall:
    """Requests that Discord carries out but whose answer never reaches the client in time:
    the client crashes or is killed after Discord acted and before it heard back.
    See :meth:`FakeDiscord.stall`."""

    method: str
    pattern: re.Pattern[str]
    #: Set once a matching request has been carried out and its answer is being held.
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set (by the test) to let held answers go.
    release: asyncio.Event = field(default_factory=asyncio.Event)
    remaining: int = 1
    #: Matching requests let through (answered at once) before the ones held.
    skip: int = 0
    #: False: the request is held *before* Discord acts on it and, once released, answered
    #: 503 without acting: it never arrived (the client was killed as it sent it).
    carry_out: bool = True

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and self.method in ("*", method)
            and self.pattern.fullmatch(path) is not None
        )


@dataclass
class CommandSync:
    """One bulk overwrite (``PUT``) of application commands, i.e. one ``tree.sync()``."""

    #: The guild the commands were synced to, None for global commands.
    guild_id: int | None
    #: The command definitions as sent by the client.
    commands: list[dict[str, Any]]


class InteractionTimeout(TimeoutError):
    """The bot did not answer an interaction (or did not follow up a deferral) in time."""


class InteractionResult:
    """What the bot answered to one interaction; live: it updates as more answers arrive.

    ``message`` is what the user sees as the answer: the callback's message (type 4), the
    deferred message once edited or followed up (type 5: after a deferral the first
    followup *replaces* the "thinking" message, as on Discord), or for button clicks
    answered with type 6/7 the clicked message itself, as updated.
    """

    def __init__(
        self,
        *,
        interaction_id: int,
        token: str,
        kind: int,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        payload: dict[str, Any],
    ) -> None:
        self.interaction_id = interaction_id
        self.token = token
        #: Interaction type: 2 command, 3 component, 4 autocomplete, 5 modal submit.
        self.kind = kind
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user_id = user_id
        #: The INTERACTION_CREATE payload that was dispatched.
        self.payload = payload
        #: The raw callback body the bot POSTed (``{"type": ..., "data": ...}``), or None.
        self.callback: dict[str, Any] | None = None
        #: The visible answer (a message dict), see the class docstring.
        self.message: dict[str, Any] | None = None
        #: Every message the bot created with a followup POST, in order.
        self.followups: list[dict[str, Any]] = []
        self._settled = False
        self._created = time.monotonic()
        self._changed = asyncio.Condition()

    # -- what the bot answered -----------------------------------------------------------

    @property
    def answered(self) -> bool:
        return self.callback is not None

    @property
    def type(self) -> int | None:
        """Callback type: 4 message, 5 deferred, 6 deferred update, 7 update, 8 choices, 9 modal."""
        return None if self.callback is None else self.callback.get("type")

    @property
    def deferred(self) -> bool:
        return self.type in (
            CallbackType.DEFERRED_CHANNEL_MESSAGE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
        )

    @property
    def content(self) -> str | None:
        return None if self.message is None else self.message.get("content")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return [] if self.message is None else self.message.get("embeds", [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return [] if self.message is None else self.message.get("components", [])

    @property
    def flags(self) -> int:
        return 0 if self.message is None else self.message.get("flags", 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices (callback type 8), else None."""
        if self.type != CallbackType.AUTOCOMPLETE_RESULT:
            return None
        return (self.callback.get("data") or {}).get("choices", [])

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (callback type 9), else None."""
        if self.type != CallbackType.MODAL:
            return None
        return self.callback.get("data")

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The answer message then every followup that is not the answer itself."""
        out = [self.message] if self.message is not None else []
        out += [m for m in self.followups if m is not self.message]
        return out

    # -- waiting -------------------------------------------------------------------------

    async def wait_for_followups(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """Wait until the bot has sent at least ``count`` followups; return them all."""
        await self._wait(lambda: len(self.followups) >= count, timeout, f"{count} followup(s)")
        return self.followups

    async def wait_until_answered(self, timeout: float = 5.0) -> InteractionResult:  # noqa: ASYNC109
        """Wait for the callback and, after a deferral, the first edit or followup."""
        await self._wait(lambda: self.answered and self._settled, timeout, "an answer")
        return self

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    await self._changed.wait_for(predicate)
        except TimeoutError:
            raise InteractionTimeout(
                f"bot did not send {what} within {timeout}s for interaction {self.interaction_id} "
                f"(kind {self.kind}, callback type {self.type}, {len(self.followups)} followups); "
                "check the bot's logs for an exception in the command"
            ) from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def __repr__(self) -> str:
        return (
            f"<InteractionResult kind={self.kind} type={self.type} ephemeral={self.ephemeral} "
            f"content={self.content!r} followups={len(self.followups)}>"
        )


# --------------------------------------------------------------------------------------
# Internals: errors, requests, gateway sessions
# --------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors


class _NotFound(_ApiError, LookupError):
    """A 404 on the wire; a LookupError when a test names an id the fake does not know."""


def _unknown(what: str, code: int, ident: object = None) -> _ApiError:
    error = _NotFound(404, code, f"Unknown {what}")
    if ident is not None:
        error.args = (f"Unknown {what} {ident}",)
    return error


def _missing_permissions() -> _ApiError:
    return _ApiError(403, 50013, "Missing Permissions")


def _missing_access() -> _ApiError:
    return _ApiError(403, 50001, "Missing Access")


class _FormErrors:
    """Collects Discord-style nested form errors (code 50035)."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def raise_if_any(self) -> None:
        if self.tree:
            raise _ApiError(400, 50035, "Invalid Form Body", self.tree)


@dataclass
class _Call:
    """A REST request being handled."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    files: list[dict[str, Any]]
    record: RecordedRequest

    def id(self, name: str) -> int:
        return int(self.params[name])

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


class _Session:
    """A gateway session: survives reconnects (RESUME) until the client closes it."""

    def __init__(self, session_id: str, identify: dict[str, Any]) -> None:
        self.session_id = session_id
        self.identify = identify
        self.seq = 0
        self.backlog: list[dict[str, Any]] = []
        self.connection: _Connection | None = None

    def next_payload(self, event: str, data: Any) -> dict[str, Any]:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": copy.deepcopy(data)}
        self.backlog.append(payload)
        del self.backlog[:-1000]
        return payload


class _Connection:
    """One gateway WebSocket; a writer task sends queued payloads in order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.session: _Session | None = None
        #: Set when the fake closes the socket (the client then echoes some close code).
        self.closed_by_server = False
        self.writer = asyncio.create_task(self._write(), name="fakediscord-gateway-writer")

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    async def flush(self) -> None:
        await self.queue.join()

    async def _write(self) -> None:
        while True:
            payload = await self.queue.get()
            try:
                if not self.ws.closed:
                    await self.ws.send_str(json.dumps(payload))
            except (ConnectionError, RuntimeError) as exc:
                log.debug("gateway send failed: %s", exc)
            finally:
                self.queue.task_done()

    async def stop(self) -> None:
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer
        while not self.queue.empty():  # let flush() waiters go
            self.queue.get_nowait()
            self.queue.task_done()


def _json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Exactly "application/json": discord.py compares the header string (no charset).
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _iso(ts: float | None = None) -> str:
    moment = datetime.datetime.fromtimestamp(ts if ts is not None else time.time(), datetime.UTC)
    return moment.isoformat()


def _walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components or ():
        yield comp
        yield from _walk_components(comp.get("components") or ())
        if isinstance(comp.get("component"), dict):
            yield from _walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from _walk_components([comp["accessory"]])


def _snowflake_time(snowflake: int) -> float:
    """When a snowflake was made (Unix seconds)."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def _snowflake_str(value: Any) -> str:
    """An id given as int, str or object with ``.id`` → wire string."""
    return str(getattr(value, "id", value))


# --------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------


class FakeDiscord:
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

    # ==================================================================================
    # State building
    # ==================================================================================

    def _snowflake(self) -> int:
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(now, self._last_snowflake + 1)
        return self._last_snowflake

    def add_user(self, username: str, *, bot: bool = False) -> int:
        """Create a user (who can invoke commands, be mentioned or passed as an option)."""
        uid = self._snowflake()
        self._users[uid] = {
            "id": str(uid),
            "username": username,
            "discriminator": "0",
            "global_name": username,
            "avatar": None,
            "bot": bot,
            "system": False,
            "public_flags": 0,
        }
        return uid

    def add_guild(
        self,
        name: str,
        *,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        owner_id: int | None = None,
    ) -> int:
        """Create a guild the bot is in, with an @everyone role (id == guild id) and the
        bot's managed role (:meth:`bot_role_id`). Sent as GUILD_CREATE after IDENTIFY, or
        right away to a connected client."""
        gid = self._snowflake()
        self._guilds[gid] = {
            "id": str(gid),
            "name": name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(owner_id or self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "emojis": [],
            "stickers": [],
            "joined_at": _iso(),
        }
        self._roles[gid] = self._role_payload(gid, gid, "@everyone", everyone_permissions)
        bot_role = self._snowflake()
        role = self._role_payload(gid, bot_role, self.bot_user["username"], bot_permissions)
        role.update(managed=True, tags={"bot_id": str(self.bot_user_id)}, position=1)
        self._roles[bot_role] = role
        self._bot_roles[gid] = bot_role
        self._guild_commands.setdefault(gid, {})
        self._broadcast("GUILD_CREATE", self._guild_create_payload(gid))
        return gid

    def _role_payload(self, gid: int, rid: int, name: str, permissions: int) -> dict[str, Any]:
        return {
            "id": str(rid),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": 0,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
            "_guild_id": gid,
        }

    def add_role(
        self, guild_id: int, name: str, *, permissions: int = 0, mentionable: bool = False
    ) -> int:
        """Create a role. A role is pinged by ``<@&id>`` only if ``mentionable`` or the bot
        has Mention Everyone (and allowed_mentions allows it)."""
        self._guild(guild_id)
        rid = self._snowflake()
        role = self._role_payload(guild_id, rid, name, permissions)
        role["mentionable"] = mentionable
        self._roles[rid] = role
        self._broadcast("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": _public(role)})
        return rid

    def add_channel(
        self,
        guild_id: int,
        name: str,
        type: int = ChannelType.TEXT,
        *,
        topic: str | None = None,
        parent_id: int | None = None,
        tags: Iterable[str | dict[str, Any]] = (),
        require_tag: bool = False,
        position: int | None = None,
    ) -> int:
        """Create a channel: 0 text, 5 announcement (news), 15 forum (``tags`` become its
        ``available_tags``; ``require_tag`` makes a tag mandatory), 4 category."""
        self._guild(guild_id)
        if type in ChannelType.THREADS:
            raise ValueError("use add_thread() for threads")
        cid = self._snowflake()
        channel: dict[str, Any] = {
            "id": str(cid),
            "type": type,
            "guild_id": str(guild_id),
            "name": name,
            "position": position
            if position is not None
            else sum(1 for c in self._channels.values() if c["guild_id"] == str(guild_id)),
            "permission_overwrites": [],
            "parent_id": str(parent_id) if parent_id else None,
            "nsfw": False,
            "flags": 0,
        }
        if type != ChannelType.CATEGORY:
            channel.update(
                topic=topic,
                last_message_id=None,
                rate_limit_per_user=0,
                default_auto_archive_duration=1440,
                default_thread_rate_limit_per_user=0,
            )
        if type in ChannelType.FORUMS:
            available = []
            for tag in tags:
                spec = {"name": tag} if isinstance(tag, str) else dict(tag)
                available.append(
                    {
                        "id": str(self._snowflake()),
                        "name": spec["name"],
                        "moderated": spec.get("moderated", False),
                        "emoji_id": None,
                        "emoji_name": spec.get("emoji_name"),
                    }
                )
            channel.update(
                available_tags=available,
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                flags=16 if require_tag else 0,
            )
        self._channels[cid] = channel
        self._broadcast("CHANNEL_CREATE", channel)
        return cid

    def add_thread(
        self,
        parent_id: int,
        name: str,
        *,
        archived: bool = False,
        locked: bool = False,
        owner_id: int | None = None,
        applied_tags: Iterable[int] = (),
    ) -> int:
        """Create a thread that already exists (e.g. made by a user) in a channel or forum."""
        parent = self._channel(parent_id)
        kind = (
            ChannelType.NEWS_THREAD
            if parent["type"] == ChannelType.NEWS
            else ChannelType.PUBLIC_THREAD
        )
        thread = self._new_thread(
            parent,
            self._snowflake(),
            name,
            kind,
            auto_archive_duration=1440,
            owner_id=owner_id or self.owner_id,
            applied_tags=[str(t) for t in applied_tags],
        )
        thread["thread_metadata"].update(archived=archived, locked=locked)
        self._broadcast("THREAD_CREATE", {**thread, "newly_created": True})
        return int(thread["id"])

    def tag_id(self, forum_id: int, name: str) -> int:
        """Id of the forum tag called ``name``."""
        for tag in self._channel(forum_id).get("available_tags", []):
            if tag["name"] == name:
                return int(tag["id"])
        raise LookupError(f"forum {forum_id} has no tag {name!r}")

    def bot_role_id(self, guild_id: int) -> int:
        """Id of the bot's managed role in the guild (holds the bot's guild permissions)."""
        return self._bot_roles[guild_id]

    def set_role_permissions(self, role_id: int, permissions: int) -> None:
        """Change a role's permissions (the guild id is the @everyone role)."""
        role = self._role(role_id)
        role["permissions"] = str(permissions)
        self._broadcast(
            "GUILD_ROLE_UPDATE", {"guild_id": str(role["_guild_id"]), "role": _public(role)}
        )

    def set_bot_permissions(self, guild_id: int, permissions: int) -> None:
        """Set the bot's guild-wide permissions (those of its managed role)."""
        self.set_role_permissions(self.bot_role_id(guild_id), permissions)

    def set_overwrite(
        self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Set a permission overwrite on a channel for a role (incl. @everyone = guild id)
        or a member. ``allow=deny=0`` removes it. Dispatches CHANNEL_UPDATE."""
        channel = self._channel(channel_id)
        kind = 0 if target_id in self._roles else 1
        overwrites = [o for o in channel["permission_overwrites"] if o["id"] != str(target_id)]
        if allow or deny:
            overwrites.append(
                {"id": str(target_id), "type": kind, "allow": str(allow), "deny": str(deny)}
            )
        channel["permission_overwrites"] = overwrites
        self._broadcast("CHANNEL_UPDATE", channel)

    def set_bot_overwrite(self, channel_id: int, *, allow: int = 0, deny: int = 0) -> None:
        """Member overwrite for the bot in one channel, e.g. ``deny=Perm.SEND_MESSAGES``.
        The REST API then refuses accordingly and ``channel.permissions_for(guild.me)``
        in the client agrees."""
        self.set_overwrite(channel_id, self.bot_user_id, allow=allow, deny=deny)

    def update_channel(self, channel_id: int, **fields: Any) -> dict[str, Any]:
        """Change a channel or thread as a moderator would (dispatches CHANNEL/THREAD_UPDATE).
        For threads ``archived``, ``locked`` and ``auto_archive_duration`` go to
        ``thread_metadata``."""
        channel = self._channel(channel_id)
        self._apply_channel_changes(channel, fields)
        self._broadcast_channel_update(channel)
        return channel

    def remove_channel(self, channel_id: int) -> None:
        """Delete a channel or thread as a moderator would (dispatches CHANNEL/THREAD_DELETE)."""
        self._delete_channel(self._channel(channel_id))

    def remove_guild(self, guild_id: int) -> None:
        """The bot is removed from a guild (dispatches GUILD_DELETE → ``on_guild_remove``)."""
        self._guild(guild_id)
        for channel in [c for c in self._channels.values() if c["guild_id"] == str(guild_id)]:
            if int(channel["id"]) in self._channels:
                self._forget_channel(channel)
        for rid in [r for r, role in self._roles.items() if role["_guild_id"] == guild_id]:
            del self._roles[rid]
        del self._guilds[guild_id]
        self._bot_roles.pop(guild_id, None)
        self._guild_commands.pop(guild_id, None)
        self._broadcast("GUILD_DELETE", {"id": str(guild_id)})

    def remove_message(self, message_id: int) -> None:
        """Delete a message as a moderator would (dispatches MESSAGE_DELETE)."""
        self._delete_message(self._message(message_id))

    def post_user_message(
        self, channel_id: int, content: str, *, user_id: int | None = None
    ) -> int:
        """A message written by a user (not the bot); dispatched as MESSAGE_CREATE."""
        author = self._user(user_id or self.owner_id)
        msg = self._store_message(self._channel(channel_id), {"content": content}, author=author)
        return int(msg["id"])

    # -- reading state -------------------------------------------------------------------

    @property
    def bot_user(self) -> dict[str, Any]:
        return self._users[self.bot_user_id]

    def guild(self, guild_id: int) -> dict[str, Any]:
        return self._guild(guild_id)

    def channel(self, channel_id: int) -> dict[str, Any]:
        """A channel or thread (live wire dict)."""
        return self._channel(channel_id)

    def has_channel(self, channel_id: int) -> bool:
        return channel_id in self._channels

    def threads(self, parent_id: int | None = None) -> list[dict[str, Any]]:
        """Threads (archived ones too), optionally of one parent, in creation order."""
        return [
            c
            for c in self._channels.values()
            if c["type"] in ChannelType.THREADS
            and (parent_id is None or c["parent_id"] == str(parent_id))
        ]

    def messages(
        self, channel_id: int, *, include_interactions: bool = False
    ) -> list[dict[str, Any]]:
        """Messages in a channel or thread, oldest first.

        By default only messages created through the channel, thread and webhook routes;
        non-ephemeral interaction answers are included with ``include_interactions=True``
        (ephemeral ones never are: read them from the InteractionResult).
        """
        out = []
        for mid in self._channel_messages.get(channel_id, []):
            msg = self._messages[mid]
            if include_interactions or "interaction_metadata" not in msg:
                out.append(msg)
        return out

    def message(self, message_id: int) -> dict[str, Any]:
        """Any stored message by id, including interaction answers."""
        return self._message(message_id)

    def message_request(self, message_id: int) -> dict[str, Any]:
        """JSON body of the request that created the message (``allowed_mentions``,
        ``nonce``, ``enforce_nonce``, ``username``, ``avatar_url``, ``applied_tags`` ...)."""
        return self._message_requests[message_id]

    def is_published(self, message_id: int) -> bool:
        """Whether the message was crossposted (published) from an announcement channel."""
        return bool(self._message(message_id)["flags"] & MessageFlag.CROSSPOSTED)

    def webhooks(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        return [
            w
            for w in self._webhooks.values()
            if channel_id is None or w["channel_id"] == str(channel_id)
        ]

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Registered commands: global ones, or those of ``guild_id``."""
        table = (
            self._global_commands if guild_id is None else self._guild_commands.get(guild_id, {})
        )
        return list(table.values())

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Recorded requests whose method matches (``"*"`` = any) and whose path fully
        matches ``path_regex``."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if method in ("*", r.method) and pattern.fullmatch(r.path)]

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's computed permissions in a channel or thread (as Discord computes them)."""
        channel = self._channel(channel_id)
        return self._permissions_in(
            channel, self.bot_user_id, [self.bot_role_id(int(channel["guild_id"]))]
        )

    # ==================================================================================
    # Fault injection
    # ==================================================================================

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int | None = 1,
        json: Any = None,
        headers: dict[str, str] | None = None,
        when: Callable[[Any], bool] | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching requests (None = all) with ``status``.

        ``when``, if given, picks the requests by their JSON body (e.g. only those with an
        embed, or about one post), as Discord refuses a payload and not a route.

        ``method`` is an HTTP method or ``"*"``; ``path_regex`` must match the whole path
        relative to ``api_base`` (``re.fullmatch``), e.g. ``r"/channels/\\d+/messages"``.
        Default bodies: 403 → Missing Permissions (50013), 404 → Unknown Channel (10003),
        others a generic message. Faults apply before auth and normal handling.
        Note discord.py retries 500/502/504 itself, sleeping 1 s, 3 s, ... between tries;
        use 503 for a server error that surfaces at once as ``DiscordServerError``.
        """
        if json is None:
            json = {
                403: {"message": "Missing Permissions", "code": 50013},
                404: {"message": "Unknown Channel", "code": 10003},
                400: {"message": "Invalid Form Body", "code": 50035, "errors": {}},
            }.get(status, {"message": f"{status}: Fake failure", "code": 0})
        fault = Fault(
            method.upper(),
            re.compile(path_regex),
            status,
            json,
            dict(headers or {}),
            times,
            when=when,
        )
        self._faults.append(fault)
        return fault

    def rate_limit(
        self,
        method: str,
        path_regex: str,
        *,
        retry_after: float = 0.2,
        times: int | None = 1,
        is_global: bool = False,
    ) -> Fault:
        """Answer matching requests with a 429 that discord.py honours (``Via`` header,
        JSON ``retry_after`` and ``global``): it sleeps ``retry_after`` and retries."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        return self.fail(method, path_regex, 429, times=times, json=body, headers=headers)

    def stall(
        self,
        method: str,
        path_regex: str,
        *,
        times: int = 1,
        skip: int = 0,
        carry_out: bool = True,
    ) -> Stall:
        """Carry out the next ``times`` matching requests but hold their answers until
        ``stall.release`` is set: for crashes between "Discord acted" and "bot knows".
        The first ``skip`` matching requests are answered as usual. With ``carry_out=False``
        the requests are held before Discord acts and never carried out (see Stall)."""
        stall = Stall(
            method.upper(), re.compile(path_regex), remaining=times, skip=skip, carry_out=carry_out
        )
        self._stalls.append(stall)
        return stall

    def clear_faults(self) -> None:
        self._faults.clear()

    def forget_nonces(self) -> None:
        """As if ``nonce_window`` had passed: no earlier nonce deduplicates a send any more
        (a bot that was down for longer than Discord remembers nonces)."""
        self._nonces.clear()

    # ==================================================================================
    # Gateway
    # ==================================================================================

    @property
    def connected(self) -> bool:
        """Whether a client is connected and identified (or resumed)."""
        return any(s.connection is not None for s in self._sessions.values())

    async def wait_for_identify(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until a client is connected and identified; return its IDENTIFY payload."""
        async with asyncio.timeout(timeout):
            while True:
                for session in self._sessions.values():
                    if session.connection is not None:
                        return session.identify
                self._gateway_changed.clear()
                await self._gateway_changed.wait()

    async def wait_until_disconnected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until no client is connected (e.g. after ``await bot.close()``)."""
        async with asyncio.timeout(timeout):
            while self.connected:
                self._gateway_changed.clear()
                await self._gateway_changed.wait()

    async def wait_for_resume(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``resumes`` reaches ``count``."""
        async with asyncio.timeout(timeout):
            while self.resumes < count:
                self._gateway_changed.clear()
                await self._gateway_changed.wait()

    async def dispatch(self, event: str, data: Any) -> None:
        """Send a gateway DISPATCH (``op 0``, ``t=event``) to every session and wait until it
        is written to connected clients. Sessions that are disconnected but resumable get
        it on RESUME. Raises RuntimeError if no client session exists."""
        if not self._sessions:
            raise RuntimeError("no client is connected to the fake gateway")
        self._broadcast(event, data)
        await self._flush()

    async def close_gateway(self, code: int = 4000) -> None:
        """Close every gateway WebSocket with ``code``. With 4000 (default) discord.py
        reconnects and RESUMEs; 4004 tells it the token is invalid."""
        for conn in list(self._connections):
            await conn.flush()
            conn.closed_by_server = True
            await conn.ws.close(code=code, message=b"fake discord closing")

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT to connected clients (they reconnect and RESUME)."""
        for conn in list(self._connections):
            conn.send({"op": 7, "d": None})
        await self._flush()

    async def invalidate_sessions(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; with ``resumable=False`` clients identify anew
        (discord.py waits 5 s before that re-IDENTIFY, in ``before_identify_hook``)."""
        for conn in list(self._connections):
            conn.send({"op": 9, "d": resumable})
            if not resumable and conn.session is not None:
                self._sessions.pop(conn.session.session_id, None)
                conn.session = None
        await self._flush()

    async def _flush(self) -> None:
        await asyncio.gather(*(c.flush() for c in list(self._connections)))

    def _broadcast(self, event: str, data: Any) -> None:
        """Queue an event for every session (written in order by each connection's writer)."""
        for session in self._sessions.values():
            payload = session.next_payload(event, data)
            if session.connection is not None:
                session.connection.send(payload)

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        self.gateway_attempts += 1
        if self.refuse_gateway:
            return web.Response(status=503, text="fake gateway refusing connections")
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        conn.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    break
        except Exception as exc:  # a bug in the fake: record it, let the client reconnect
            log.exception("fake gateway failed")
            self.errors.append(exc)
        finally:
            self._connections.discard(conn)
            session = conn.session
            if session is not None:
                session.connection = None
                if ws.close_code == 1000 and not conn.closed_by_server:
                    # the client closed cleanly (bot.close()): Discord ends the session
                    self._sessions.pop(session.session_id, None)
            await conn.stop()
            self._gateway_changed.set()
        return ws

    async def _on_gateway_message(self, conn: _Connection, msg: dict[str, Any]) -> None:
        op, data = msg.get("op"), msg.get("d")
        if op == 1:  # HEARTBEAT
            conn.send({"op": 11})
        elif op == 2:  # IDENTIFY
            if data.get("token") != self.token:
                conn.closed_by_server = True
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            self.identifies.append(data)
            session = _Session(secrets.token_hex(16), data)
            self._sessions[session.session_id] = session
            session.connection = conn
            conn.session = session
            conn.send(session.next_payload("READY", self._ready_payload(session)))
            for gid in self._guilds:
                conn.send(session.next_payload("GUILD_CREATE", self._guild_create_payload(gid)))
            self._gateway_changed.set()
        elif op == 6:  # RESUME
            session = self._sessions.get(data.get("session_id"))
            if session is None or data.get("token") != self.token:
                conn.send({"op": 9, "d": False})
                return
            if session.connection is not None and session.connection is not conn:
                session.connection.session = None
            session.connection = conn
            conn.session = session
            last = data.get("seq") or 0
            for payload in session.backlog:
                if payload["s"] > last:
                    conn.send(payload)
            conn.send(session.next_payload("RESUMED", {}))
            self.resumes += 1
            self._gateway_changed.set()
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            if conn.session is None:
                return
            gid = int(data["guild_id"])
            chunk = {
                "guild_id": str(gid),
                "members": [self._bot_member(gid)],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce"):
                chunk["nonce"] = data["nonce"]
            conn.send(conn.session.next_payload("GUILD_MEMBERS_CHUNK", chunk))
        # op 3 presence, op 4 voice state and anything else: ignored

    def _ready_payload(self, session: _Session) -> dict[str, Any]:
        ready = {
            "v": API_VERSION,
            "user": _public(self.bot_user),
            "user_settings": {},
            "guilds": [{"id": str(gid), "unavailable": True} for gid in self._guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "_trace": ["fakediscord"],
        }
        if "shard" in session.identify:
            ready["shard"] = session.identify["shard"]
        return ready

    def _guild_create_payload(self, gid: int) -> dict[str, Any]:
        guild = dict(self._guild(gid))
        sid = str(gid)
        guild.update(
            roles=[_public(r) for r in self._roles.values() if r["_guild_id"] == gid],
            channels=[
                c
                for c in self._channels.values()
                if c["guild_id"] == sid and c["type"] not in ChannelType.THREADS
            ],
            threads=[
                c
                for c in self._channels.values()
                if c["guild_id"] == sid
                and c["type"] in ChannelType.THREADS
                and not c["thread_metadata"]["archived"]
            ],
            members=[self._bot_member(gid)],
            member_count=1,
            large=False,
            unavailable=False,
            lazy=True,
            voice_states=[],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return guild

    def _bot_member(self, gid: int) -> dict[str, Any]:
        member = self._member(gid, self.bot_user_id, [self.bot_role_id(gid)])
        member["user"] = _public(self.bot_user)
        return member

    def _member(self, gid: int, uid: int, roles: Iterable[int]) -> dict[str, Any]:
        return {
            "roles": [str(r) for r in roles],
            "joined_at": self._guild(gid)["joined_at"],
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "pending": False,
            "communication_disabled_until": None,
        }

    # ==================================================================================
    # Interactions (the user's side)
    # ==================================================================================

    async def invoke(
        self,
        guild_id: int,
        channel_id: int,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int | None = None,
        user_permissions: int | None = None,
        roles: Iterable[int] = (),
        locale: str = "en-US",
        timeout: float = 5.0,  # noqa: ASYNC109
        wait: bool = True,
        check_default_permissions: bool = True,
    ) -> InteractionResult:
        """A user runs a slash command; return what the bot answered.

        ``command`` is the full name as typed, e.g. ``"feed add"`` (command, group,
        subcommand). ``options`` maps option names to values; the option types come from
        the *registered* definition (so the bot must have synced): channel/role/user
        options take ids (or objects with ``.id``) and are put in ``data.resolved``.
        Missing required options, unknown names, values outside ``choices``, ranges or
        ``channel_types`` raise ValueError, as Discord's client would not send them.

        The user defaults to the guild owner; ``user_permissions`` (the member's computed
        permissions, sent as ``member.permissions``) defaults to what the user's
        ``roles`` give in that channel. A command whose ``default_member_permissions`` the
        user lacks raises PermissionError (Discord would not show it), unless
        ``check_default_permissions=False``.

        Waits (``timeout``) until the bot answered and, if it deferred, until the first
        edit or followup; raises InteractionTimeout otherwise. ``wait=False`` returns at
        once (use ``result.wait_until_answered()``).
        """
        guild = self._guild(guild_id)
        channel = self._channel(channel_id)
        user_id = user_id or self.owner_id
        if user_permissions is None:
            user_permissions = self._user_permissions(guild_id, channel, user_id, roles)
        definition, leaf, path = self._find_command(guild_id, command)
        if check_default_permissions:
            self._check_default_permissions(definition, user_permissions, command)
        resolved: dict[str, dict[str, Any]] = {}
        leaf_options = self._build_options(
            leaf.get("options") or [], options or {}, resolved, guild_id, user_permissions
        )
        data = self._command_data(definition, path, leaf_options, resolved, guild_id)
        result = self._new_interaction(
            _INTERACTION_APPLICATION_COMMAND,
            guild,
            channel,
            data,
            user_id,
            user_permissions,
            roles,
            locale,
        )
        await self._deliver(result)
        if wait:
            await result.wait_until_answered(timeout)
        return result

    async def autocomplete(
        self,
        guild_id: int,
        channel_id: int,
        command: str,
        *,
        option: str,
        value: Any,
        options: dict[str, Any] | None = None,
        user_id: int | None = None,
        user_permissions: int | None = None,
        roles: Iterable[int] = (),
        locale: str = "en-US",
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """A user types ``value`` into ``option`` of ``command``; return the bot's choices
        (``[{"name": ..., "value": ...}]``). ``options`` are the other options already
        filled in."""
        guild = self._guild(guild_id)
        channel = self._channel(channel_id)
        user_id = user_id or self.owner_id
        if user_permissions is None:
            user_permissions = self._user_permissions(guild_id, channel, user_id, roles)
        definition, leaf, path = self._find_command(guild_id, command)
        defs = {o["name"]: o for o in leaf.get("options") or []}
        if option not in defs:
            raise ValueError(f"/{command} has no option {option!r}; it has {sorted(defs)}")
        if not defs[option].get("autocomplete"):
            raise ValueError(f"option {option!r} of /{command} is not registered with autocomplete")
        resolved: dict[str, dict[str, Any]] = {}
        leaf_options = self._build_options(
            leaf.get("options") or [],
            options or {},
            resolved,
            guild_id,
            user_permissions,
            check_required=False,
        )
        leaf_options = [o for o in leaf_options if o["name"] != option]
        leaf_options.append(
            {"name": option, "type": defs[option]["type"], "value": value, "focused": True}
        )
        data = self._command_data(definition, path, leaf_options, resolved, guild_id)
        result = self._new_interaction(
            _INTERACTION_AUTOCOMPLETE,
            guild,
            channel,
            data,
            user_id,
            user_permissions,
            roles,
            locale,
        )
        await self._deliver(result)
        await result.wait_until_answered(timeout)
        if result.type != CallbackType.AUTOCOMPLETE_RESULT:
            raise AssertionError(f"autocomplete answered with callback type {result.type}, not 8")
        return result.choices or []

    async def click(
        self,
        message: InteractionResult | dict[str, Any] | int | str,
        custom_id: str,
        *,
        values: list[str] | None = None,
        user_id: int | None = None,
        user_permissions: int | None = None,
        roles: Iterable[int] = (),
        locale: str = "en-US",
        timeout: float = 5.0,  # noqa: ASYNC109
        wait: bool = True,
    ) -> InteractionResult:
        """A user presses the button (or picks ``values`` in the select menu) ``custom_id``
        on a message: an InteractionResult (whose message is the clicked one), a message
        dict or a message id. Raises LookupError if the message has no such component,
        ValueError if it is disabled. Returns the bot's answer (type 7 = message updated,
        6 = deferred update, 4 = new message, 9 = modal ...)."""
        if isinstance(message, InteractionResult):
            if message.message is None:
                raise ValueError("that interaction has no message to click on")
            message = message.message
        mid = int(message) if isinstance(message, int | str) else int(message["id"])
        msg = self._message(mid)
        component = next(
            (
                c
                for c in _walk_components(msg.get("components", []))
                if c.get("custom_id") == custom_id
            ),
            None,
        )
        if component is None:
            ids = [
                c["custom_id"]
                for c in _walk_components(msg.get("components", []))
                if "custom_id" in c
            ]
            raise LookupError(f"message {mid} has no component {custom_id!r}; it has {ids}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        channel = self._channel(int(msg["channel_id"]))
        guild_id = int(channel["guild_id"])
        guild = self._guild(guild_id)
        user_id = user_id or self.owner_id
        if user_permissions is None:
            user_permissions = self._user_permissions(guild_id, channel, user_id, roles)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = list(values)
        elif component["type"] != 2:
            data["values"] = []
        result = self._new_interaction(
            _INTERACTION_COMPONENT,
            guild,
            channel,
            data,
            user_id,
            user_permissions,
            roles,
            locale,
            message=msg,
        )
        result.message = msg
        await self._deliver(result)
        if wait:
            await result.wait_until_answered(timeout)
        return result

    async def submit_modal(
        self,
        modal_result: InteractionResult,
        values: dict[str, str],
        *,
        user_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InteractionResult:
        """Submit the modal the bot opened in ``modal_result`` (callback type 9), filling
        text inputs by ``custom_id``."""
        modal = modal_result.modal
        if modal is None:
            raise ValueError("the bot did not answer that interaction with a modal")
        rows = []
        for comp in modal.get("components", []):
            if comp.get("type") == 1:  # action row of text inputs
                rows.append(
                    {
                        "type": 1,
                        "components": [
                            {
                                "type": c["type"],
                                "custom_id": c["custom_id"],
                                "value": values.get(c["custom_id"], ""),
                            }
                            for c in comp.get("components", [])
                        ],
                    }
                )
            elif comp.get("type") == 18 and isinstance(comp.get("component"), dict):  # label
                inner = comp["component"]
                rows.append(
                    {
                        "type": 18,
                        "component": {
                            "type": inner["type"],
                            "custom_id": inner["custom_id"],
                            "value": values.get(inner["custom_id"], ""),
                        },
                    }
                )
        channel = self._channel(modal_result.channel_id)
        guild_id = int(channel["guild_id"])
        user_id = user_id or modal_result.user_id
        perms = int(modal_result.payload["member"]["permissions"])
        result = self._new_interaction(
            _INTERACTION_MODAL_SUBMIT,
            self._guild(guild_id),
            channel,
            {"custom_id": modal["custom_id"], "components": rows},
            user_id,
            perms,
            [int(r) for r in modal_result.payload["member"]["roles"]],
            modal_result.payload.get("locale", "en-US"),
        )
        await self._deliver(result)
        await result.wait_until_answered(timeout)
        return result

    def interaction(self, interaction_id: int) -> InteractionResult:
        return self._interactions[interaction_id]

    # -- building interaction payloads ---------------------------------------------------

    def _find_command(
        self, guild_id: int, command: str
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """Return (top-level definition, leaf node, [group/subcommand nodes])."""
        parts = command.strip().lstrip("/").split()
        if not parts:
            raise ValueError("empty command name")
        definition = self._guild_commands.get(guild_id, {}).get(
            parts[0]
        ) or self._global_commands.get(parts[0])
        if definition is None or definition.get("type", 1) != 1:
            known = sorted({*self._guild_commands.get(guild_id, {}), *self._global_commands})
            raise LookupError(
                f"no slash command /{parts[0]} registered for guild {guild_id} or globally "
                f"(registered: {known}); did the bot sync its command tree?"
            )
        node, path = definition, []
        for part in parts[1:]:
            sub = next(
                (
                    o
                    for o in node.get("options") or []
                    if o["name"] == part and o["type"] in (_OPTION_SUBCOMMAND, _OPTION_GROUP)
                ),
                None,
            )
            if sub is None:
                raise LookupError(f"/{command}: {part!r} is not a subcommand of {node['name']!r}")
            path.append(sub)
            node = sub
        if any(o["type"] in (_OPTION_SUBCOMMAND, _OPTION_GROUP) for o in node.get("options") or []):
            subs = [o["name"] for o in node["options"]]
            raise ValueError(f"/{command} is a group; name one of its subcommands {subs}")
        return definition, node, path

    def _check_default_permissions(
        self, definition: dict[str, Any], perms: int, command: str
    ) -> None:
        required = definition.get("default_member_permissions")
        if required is None or perms & Perm.ADMINISTRATOR:
            return
        required = int(required)
        if perms & required != required:
            raise PermissionError(
                f"/{command} needs permissions {required} (default_member_permissions) and the "
                f"user has {perms}: Discord would not show it to them"
            )

    def _command_data(
        self,
        definition: dict[str, Any],
        path: list[dict[str, Any]],
        leaf_options: list[dict[str, Any]],
        resolved: dict[str, dict[str, Any]],
        guild_id: int,
    ) -> dict[str, Any]:
        options = leaf_options
        for node in reversed(path):
            options = [{"name": node["name"], "type": node["type"], "options": options}]
        data: dict[str, Any] = {
            "id": definition["id"],
            "name": definition["name"],
            "type": 1,
            "options": options,
        }
        if definition.get("guild_id"):
            data["guild_id"] = definition["guild_id"]
        else:
            data["guild_id"] = str(guild_id)
        if resolved:
            data["resolved"] = resolved
        return data

    def _build_options(
        self,
        defs: list[dict[str, Any]],
        supplied: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
        guild_id: int,
        user_permissions: int,
        *,
        check_required: bool = True,
    ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in defs}
        unknown = set(supplied) - set(by_name)
        if unknown:
            raise ValueError(
                f"unknown option(s) {sorted(unknown)}; the command has {sorted(by_name)}"
            )
        out = []
        for d in defs:
            if d["name"] not in supplied or supplied[d["name"]] is None:
                if check_required and d.get("required"):
                    raise ValueError(f"required option {d['name']!r} is missing")
                continue
            value = self._option_value(d, supplied[d["name"]], resolved, guild_id, user_permissions)
            out.append({"name": d["name"], "type": d["type"], "value": value})
        return out

    def _option_value(
        self,
        d: dict[str, Any],
        raw: Any,
        resolved: dict[str, dict[str, Any]],
        guild_id: int,
        user_permissions: int,
    ) -> Any:
        kind, name = d["type"], d["name"]
        if kind == _OPTION_STRING:
            value: Any = str(raw)
            if "min_length" in d and d["min_length"] is not None and len(value) < d["min_length"]:
                raise ValueError(f"option {name!r} is shorter than {d['min_length']}")
            if "max_length" in d and d["max_length"] is not None and len(value) > d["max_length"]:
                raise ValueError(f"option {name!r} is longer than {d['max_length']}")
        elif kind in (_OPTION_INTEGER, _OPTION_NUMBER):
            value = int(raw) if kind == _OPTION_INTEGER else float(raw)
            if d.get("min_value") is not None and value < d["min_value"]:
                raise ValueError(f"option {name!r} is below {d['min_value']}")
            if d.get("max_value") is not None and value > d["max_value"]:
                raise ValueError(f"option {name!r} is above {d['max_value']}")
        elif kind == _OPTION_BOOLEAN:
            value = bool(raw)
        elif kind == _OPTION_CHANNEL:
            cid = int(_snowflake_str(raw))
            channel = self._channel(cid)
            types = d.get("channel_types")
            if types and channel["type"] not in types:
                raise ValueError(
                    f"option {name!r} accepts channel types {types}, not {channel['type']}"
                )
            resolved.setdefault("channels", {})[str(cid)] = {
                **channel,
                "permissions": str(user_permissions),
            }
            value = str(cid)
        elif kind == _OPTION_ROLE:
            role = self._role(int(_snowflake_str(raw)))
            resolved.setdefault("roles", {})[role["id"]] = _public(role)
            value = role["id"]
        elif kind == _OPTION_USER:
            value = self._resolve_user(int(_snowflake_str(raw)), resolved, guild_id)
        elif kind == _OPTION_MENTIONABLE:
            target = int(_snowflake_str(raw))
            if target in self._roles:
                resolved.setdefault("roles", {})[str(target)] = _public(self._roles[target])
                value = str(target)
            else:
                value = self._resolve_user(target, resolved, guild_id)
        elif kind == _OPTION_ATTACHMENT:
            raise NotImplementedError("attachment options are not supported by the fake")
        else:
            raise ValueError(f"option {name!r} has unexpected type {kind}")
        choices = d.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ValueError(f"option {name!r}: {value!r} is not one of its choices")
        return value

    def _resolve_user(self, uid: int, resolved: dict[str, dict[str, Any]], guild_id: int) -> str:
        user = self._user(uid)
        resolved.setdefault("users", {})[str(uid)] = _public(user)
        roles = [self.bot_role_id(guild_id)] if uid == self.bot_user_id else []
        member = self._member(guild_id, uid, roles)
        member["permissions"] = str(self._user_permissions(guild_id, None, uid, roles))
        resolved.setdefault("members", {})[str(uid)] = member
        return str(uid)

    def _user_permissions(
        self, guild_id: int, channel: dict[str, Any] | None, user_id: int, roles: Iterable[int]
    ) -> int:
        if channel is None:
            return self._permissions_in(None, user_id, roles, guild_id=guild_id)
        return self._permissions_in(channel, user_id, roles)

    def _new_interaction(
        self,
        kind: int,
        guild: dict[str, Any],
        channel: dict[str, Any],
        data: dict[str, Any],
        user_id: int,
        user_permissions: int,
        roles: Iterable[int],
        locale: str,
        *,
        message: dict[str, Any] | None = None,
    ) -> InteractionResult:
        iid = self._snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        gid = int(guild["id"])
        member = self._member(gid, user_id, roles)
        member["user"] = _public(self._user(user_id))
        member["permissions"] = str(user_permissions)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": guild["id"],
            "guild": {
                "id": guild["id"],
                "locale": guild["preferred_locale"],
                "features": guild["features"],
            },
            "channel_id": channel["id"],
            "channel": {**channel, "permissions": str(user_permissions)},
            "member": member,
            "token": token,
            "version": 1,
            "app_permissions": str(self.bot_permissions(int(channel["id"]))),
            "locale": locale,
            "guild_locale": guild["preferred_locale"],
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": guild["id"]},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        result = InteractionResult(
            interaction_id=iid,
            token=token,
            kind=kind,
            guild_id=gid,
            channel_id=int(channel["id"]),
            user_id=user_id,
            payload=payload,
        )
        self._interactions[iid] = result
        return result

    async def _deliver(self, result: InteractionResult) -> None:
        if not self.connected:
            raise RuntimeError(
                "no client is connected to the fake gateway to receive the interaction"
            )
        await self.dispatch("INTERACTION_CREATE", result.payload)

    # ==================================================================================
    # Permissions
    # ==================================================================================

    def _permissions_in(
        self,
        channel: dict[str, Any] | None,
        member_id: int,
        role_ids: Iterable[int],
        *,
        guild_id: int | None = None,
    ) -> int:
        if channel is not None and channel["type"] in ChannelType.THREADS:
            thread, channel = channel, self._channels.get(int(channel["parent_id"]))
            if channel is None:
                channel = thread
        gid = int(channel["guild_id"]) if channel is not None else guild_id
        guild = self._guild(gid)
        if int(guild["owner_id"]) == member_id:
            return ALL_PERMISSIONS
        role_ids = [r for r in role_ids if r in self._roles]
        perms = int(self._roles[gid]["permissions"])
        for rid in role_ids:
            perms |= int(self._roles[rid]["permissions"])
        if perms & Perm.ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        overwrites = {o["id"]: o for o in channel.get("permission_overwrites", [])}
        everyone = overwrites.get(str(gid))
        if everyone:
            perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
        allow = deny = 0
        for rid in role_ids:
            o = overwrites.get(str(rid))
            if o:
                allow |= int(o["allow"])
                deny |= int(o["deny"])
        perms = (perms & ~deny) | allow
        own = overwrites.get(str(member_id))
        if own:
            perms = (perms & ~int(own["deny"])) | int(own["allow"])
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        return perms

    def _require_bot(self, channel: dict[str, Any], *needed: int) -> int:
        perms = self.bot_permissions(int(channel["id"]))
        if not perms & Perm.VIEW_CHANNEL:
            raise _missing_access()
        for bit in needed:
            if not perms & bit:
                raise _missing_permissions()
        return perms

    # ==================================================================================
    # REST plumbing
    # ==================================================================================

    def _build_routes(
        self,
    ) -> list[tuple[str, re.Pattern[str], Callable[[_Call], Awaitable[Any]], bool]]:
        n = r"(?P<{}>\d+)"
        cid, mid, gid, app = n.format("cid"), n.format("mid"), n.format("gid"), n.format("app")
        wid, cmd, iid = n.format("wid"), n.format("cmd"), n.format("iid")
        tok = r"(?P<token>[^/]+)"
        spec: list[tuple[str, str, Callable[[_Call], Awaitable[Any]], bool]] = [
            # (method, path, handler, needs bot token)
            ("GET", "/users/@me", self._get_me, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            # application commands
            ("GET", f"/applications/{app}/commands", self._list_commands, True),
            ("PUT", f"/applications/{app}/commands", self._put_commands, True),
            ("POST", f"/applications/{app}/commands", self._upsert_command, True),
            ("GET", f"/applications/{app}/commands/{cmd}", self._get_command, True),
            ("PATCH", f"/applications/{app}/commands/{cmd}", self._edit_command, True),
            ("DELETE", f"/applications/{app}/commands/{cmd}", self._delete_command, True),
            ("GET", f"/applications/{app}/guilds/{gid}/commands", self._list_commands, True),
            ("PUT", f"/applications/{app}/guilds/{gid}/commands", self._put_commands, True),
            ("POST", f"/applications/{app}/guilds/{gid}/commands", self._upsert_command, True),
            ("GET", f"/applications/{app}/guilds/{gid}/commands/{cmd}", self._get_command, True),
            ("PATCH", f"/applications/{app}/guilds/{gid}/commands/{cmd}", self._edit_command, True),
            (
                "DELETE",
                f"/applications/{app}/guilds/{gid}/commands/{cmd}",
                self._delete_command,
                True,
            ),
            (
                "GET",
                f"/applications/{app}/guilds/{gid}/commands/permissions",
                self._empty_list,
                True,
            ),
            # interactions
            ("POST", f"/interactions/{iid}/{tok}/callback", self._interaction_callback, False),
            # guilds
            ("GET", f"/guilds/{gid}", self._get_guild, True),
            ("GET", f"/guilds/{gid}/channels", self._get_guild_channels, True),
            ("GET", f"/guilds/{gid}/roles", self._get_guild_roles, True),
            ("GET", f"/guilds/{gid}/members/(?P<uid>\\d+)", self._get_member, True),
            ("GET", f"/guilds/{gid}/threads/active", self._get_active_threads, True),
            ("GET", f"/guilds/{gid}/webhooks", self._list_webhooks, True),
            # channels
            ("GET", f"/channels/{cid}", self._get_channel, True),
            ("PATCH", f"/channels/{cid}", self._edit_channel, True),
            ("DELETE", f"/channels/{cid}", self._delete_channel_route, True),
            ("GET", f"/channels/{cid}/messages", self._history, True),
            ("POST", f"/channels/{cid}/messages", self._post_message, True),
            ("GET", f"/channels/{cid}/messages/{mid}", self._get_message, True),
            ("PATCH", f"/channels/{cid}/messages/{mid}", self._edit_message, True),
            ("DELETE", f"/channels/{cid}/messages/{mid}", self._delete_message_route, True),
            ("POST", f"/channels/{cid}/messages/{mid}/crosspost", self._crosspost, True),
            ("POST", f"/channels/{cid}/messages/{mid}/threads", self._thread_from_message, True),
            (
                "PUT",
                f"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/@me",
                self._react,
                True,
            ),
            ("POST", f"/channels/{cid}/threads", self._thread_in_channel, True),
            ("GET", f"/channels/{cid}/threads/archived/public", self._archived_threads, True),
            ("PUT", f"/channels/{cid}/thread-members/@me", self._no_content, True),
            ("DELETE", f"/channels/{cid}/thread-members/@me", self._no_content, True),
            ("POST", f"/channels/{cid}/typing", self._no_content, True),
            ("GET", f"/channels/{cid}/webhooks", self._list_webhooks, True),
            ("POST", f"/channels/{cid}/webhooks", self._create_webhook, True),
            # webhooks (channel webhooks and interaction followups share these paths)
            ("GET", f"/webhooks/{wid}", self._get_webhook, True),
            ("DELETE", f"/webhooks/{wid}", self._delete_webhook, True),
            ("GET", f"/webhooks/{wid}/{tok}", self._get_webhook, False),
            ("POST", f"/webhooks/{wid}/{tok}", self._execute_webhook, False),
            (
                "GET",
                f"/webhooks/{wid}/{tok}/messages/(?P<ref>@original|\\d+)",
                self._webhook_get_message,
                False,
            ),
            (
                "PATCH",
                f"/webhooks/{wid}/{tok}/messages/(?P<ref>@original|\\d+)",
                self._webhook_edit_message,
                False,
            ),
            (
                "DELETE",
                f"/webhooks/{wid}/{tok}/messages/(?P<ref>@original|\\d+)",
                self._webhook_delete_message,
                False,
            ),
        ]
        return [(m, re.compile(p), h, auth) for m, p, h, auth in spec]

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        path = path.rstrip("/") or "/"
        body, files = await self._read_body(request)
        record = RecordedRequest(
            method=request.method,
            path=path,
            json=body,
            headers=dict(request.headers),
            query=dict(request.query),
            files=files,
        )
        self.requests.append(record)
        if await self._hold(record, carried_out=False):
            record.status = 503
            return _json_response({"message": "never reached Discord", "code": 0}, 503)
        response = await self._answer(request, record, body, files)
        record.status = response.status
        await self._hold(record, carried_out=True)
        return response

    async def _hold(self, record: RecordedRequest, *, carried_out: bool) -> bool:
        """Hold the request while a matching stall says so; whether one did."""
        held = False
        for stall in self._stalls:
            if stall.carry_out == carried_out and stall.matches(record.method, record.path):
                if stall.skip > 0:
                    stall.skip -= 1
                    continue
                stall.remaining -= 1
                stall.reached.set()
                await stall.release.wait()
                held = True
        return held

    async def _answer(
        self, request: web.Request, record: RecordedRequest, body: Any, files: list[dict[str, Any]]
    ) -> web.StreamResponse:
        for fault in self._faults:
            if fault.matches(record.method, record.path, body):
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                return _json_response(fault.body, fault.status, fault.headers)
        for method, pattern, handler, needs_auth in self._routes:
            if method != record.method:
                continue
            match = pattern.fullmatch(record.path)
            if match is None:
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return _json_response({"message": "401: Unauthorized", "code": 0}, 401)
            call = _Call(
                record.method, record.path, match.groupdict(), record.query, body, files, record
            )
            try:
                result = await handler(call)
            except _ApiError as err:
                return _json_response(err.body, err.status)
            except Exception as exc:  # a bug in the fake; 599 is not retried by discord.py
                log.exception("fake Discord failed on %s %s", record.method, record.path)
                self.errors.append(exc)
                return _json_response({"message": f"fake discord error: {exc!r}", "code": 0}, 599)
            if result is None:
                return web.Response(status=204)
            if isinstance(result, tuple):
                status, data = result
                return _json_response(data, status)
            return _json_response(result)
        log.warning("fake Discord has no route for %s %s", record.method, record.path)
        self.unhandled.append(record)
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        files: list[dict[str, Any]] = []
        if not request.can_read_body:
            return None, files
        if request.content_type.startswith("multipart/"):
            body = None
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    data = await part.read()
                    files.append(
                        {
                            "field": part.name,
                            "filename": part.filename,
                            "size": len(data),
                            "content_type": part.headers.get(
                                "Content-Type", "application/octet-stream"
                            ),
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode(errors="replace"), files

    # -- lookups ---------------------------------------------------------------------------

    def _guild(self, guild_id: int) -> dict[str, Any]:
        try:
            return self._guilds[guild_id]
        except KeyError:
            raise _unknown("Guild", 10004, guild_id) from None

    def _channel(self, channel_id: int) -> dict[str, Any]:
        try:
            return self._channels[channel_id]
        except KeyError:
            raise _unknown("Channel", 10003, channel_id) from None

    def _message(self, message_id: int) -> dict[str, Any]:
        try:
            return self._messages[message_id]
        except KeyError:
            raise _unknown("Message", 10008, message_id) from None

    def _role(self, role_id: int) -> dict[str, Any]:
        try:
            return self._roles[role_id]
        except KeyError:
            raise _unknown("Role", 10011, role_id) from None

    def _user(self, user_id: int) -> dict[str, Any]:
        if user_id not in self._users:
            self._users[user_id] = {
                "id": str(user_id),
                "username": f"user{user_id}",
                "discriminator": "0",
                "global_name": None,
                "avatar": None,
                "bot": False,
                "public_flags": 0,
            }
        return self._users[user_id]

    def _channel_message(self, call: _Call) -> tuple[dict[str, Any], dict[str, Any]]:
        channel = self._channel(call.id("cid"))
        msg = self._messages.get(call.id("mid"))
        if (
            msg is None
            or msg["channel_id"] != channel["id"]
            or msg["flags"] & MessageFlag.EPHEMERAL
        ):
            raise _unknown("Message", 10008)
        return channel, msg

    # ==================================================================================
    # REST handlers: identity, gateway, commands
    # ==================================================================================

    async def _get_me(self, call: _Call) -> Any:
        return _public(self.bot_user)

    async def _get_application(self, call: _Call) -> Any:
        owner = _public(self._user(self.owner_id))
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "rpc_origins": [],
            "bot": _public(self.bot_user),
            "interactions_endpoint_url": None,
            "tags": [],
        }

    async def _get_gateway(self, call: _Call) -> Any:
        return {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: _Call) -> Any:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    def _command_table(self, call: _Call) -> dict[str, dict[str, Any]]:
        if call.id("app") != self.application_id:
            raise _unknown("Application", 10002)
        if "gid" in call.params:
            self._guild(call.id("gid"))
            return self._guild_commands.setdefault(call.id("gid"), {})
        return self._global_commands

    def _stored_command(
        self, call: _Call, spec: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        command = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            "name_localizations": None,
            "description_localizations": None,
            **{k: v for k, v in spec.items() if v is not None or k == "default_member_permissions"},
        }
        command["id"] = existing["id"] if existing else str(self._snowflake())
        command["application_id"] = str(self.application_id)
        command["version"] = str(self._snowflake())
        if "gid" in call.params:
            command["guild_id"] = call.params["gid"]
        return command

    async def _list_commands(self, call: _Call) -> Any:
        return list(self._command_table(call).values())

    async def _put_commands(self, call: _Call) -> Any:
        table = self._command_table(call)
        specs = call.body or []
        if len(specs) > 100:
            raise _ApiError(400, 30032, "Maximum number of application commands reached (100)")
        new: dict[str, dict[str, Any]] = {}
        for spec in specs:
            existing = table.get(spec["name"])
            new[spec["name"]] = self._stored_command(call, spec, existing)
        table.clear()
        table.update(new)
        gid = call.id("gid") if "gid" in call.params else None
        self.command_syncs.append(CommandSync(gid, copy.deepcopy(specs)))
        return list(table.values())

    async def _upsert_command(self, call: _Call) -> Any:
        table = self._command_table(call)
        existing = table.get(call.json["name"])
        table[call.json["name"]] = self._stored_command(call, call.json, existing)
        return (200 if existing else 201), table[call.json["name"]]

    def _command_by_id(self, call: _Call) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        table = self._command_table(call)
        for command in table.values():
            if command["id"] == call.params["cmd"]:
                return table, command
        raise _unknown("application command", 10063)

    async def _get_command(self, call: _Call) -> Any:
        return self._command_by_id(call)[1]

    async def _edit_command(self, call: _Call) -> Any:
        table, command = self._command_by_id(call)
        del table[command["name"]]
        updated = self._stored_command(call, {**command, **call.json}, command)
        table[updated["name"]] = updated
        return updated

    async def _delete_command(self, call: _Call) -> Any:
        table, command = self._command_by_id(call)
        del table[command["name"]]
        return None

    async def _empty_list(self, call: _Call) -> Any:
        return []

    async def _no_content(self, call: _Call) -> Any:
        self._channel(call.id("cid"))
        return None

    # ==================================================================================
    # REST handlers: guilds and channels
    # ==================================================================================

    async def _get_guild(self, call: _Call) -> Any:
        guild = dict(self._guild(call.id("gid")))
        guild["roles"] = [
            _public(r) for r in self._roles.values() if r["_guild_id"] == call.id("gid")
        ]
        return guild

    async def _get_guild_channels(self, call: _Call) -> Any:
        gid = self._guild(call.id("gid"))["id"]
        return [
            c
            for c in self._channels.values()
            if c["guild_id"] == gid and c["type"] not in ChannelType.THREADS
        ]

    async def _get_guild_roles(self, call: _Call) -> Any:
        self._guild(call.id("gid"))
        return [_public(r) for r in self._roles.values() if r["_guild_id"] == call.id("gid")]

    async def _get_member(self, call: _Call) -> Any:
        gid, uid = call.id("gid"), call.id("uid")
        self._guild(gid)
        if uid == self.bot_user_id:
            return self._bot_member(gid)
        if uid not in self._users:
            raise _unknown("Member", 10007)
        member = self._member(gid, uid, [])
        member["user"] = _public(self._users[uid])
        return member

    async def _get_active_threads(self, call: _Call) -> Any:
        gid = self._guild(call.id("gid"))["id"]
        threads = [
            t
            for t in self.threads()
            if t["guild_id"] == gid and not t["thread_metadata"]["archived"]
        ]
        return {"threads": threads, "members": []}

    async def _archived_threads(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        self._require_bot(channel, Perm.READ_MESSAGE_HISTORY)
        threads = [t for t in self.threads(int(channel["id"])) if t["thread_metadata"]["archived"]]
        threads.sort(key=lambda t: t["thread_metadata"]["archive_timestamp"], reverse=True)
        if "before" in call.query:  # an ISO 8601 archive timestamp, as discord.py pages them
            before = datetime.datetime.fromisoformat(call.query["before"])
            threads = [
                t
                for t in threads
                if datetime.datetime.fromisoformat(t["thread_metadata"]["archive_timestamp"])
                < before
            ]
        limit = int(call.query.get("limit", 50))
        return {"threads": threads[:limit], "members": [], "has_more": len(threads) > limit}

    async def _get_channel(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        if not self.bot_permissions(int(channel["id"])) & Perm.VIEW_CHANNEL:
            raise _missing_access()
        return channel

    def _apply_channel_changes(self, channel: dict[str, Any], fields: dict[str, Any]) -> None:
        meta = channel.get("thread_metadata")
        for key, value in fields.items():
            if meta is not None and key in (
                "archived",
                "locked",
                "auto_archive_duration",
                "invitable",
            ):
                if key == "archived" and bool(value) != meta["archived"]:
                    meta["archive_timestamp"] = _iso()
                meta[key] = value
            elif key == "applied_tags":
                channel[key] = [str(t) for t in value or []]
            else:
                channel[key] = value

    def _broadcast_channel_update(self, channel: dict[str, Any]) -> None:
        event = "THREAD_UPDATE" if channel["type"] in ChannelType.THREADS else "CHANNEL_UPDATE"
        self._broadcast(event, channel)

    async def _edit_channel(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        changes = {
            k: v for k, v in call.json.items() if v is not None or k in ("topic", "parent_id")
        }
        errors = _FormErrors()
        if "name" in changes and not 1 <= len(changes["name"] or "") <= 100:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if (
            "auto_archive_duration" in changes
            and changes["auto_archive_duration"] not in THREAD_ARCHIVE_DURATIONS
        ):
            errors.add(
                ["auto_archive_duration"],
                "BASE_TYPE_CHOICES",
                "Value must be one of (60, 1440, 4320, 10080).",
            )
        errors.raise_if_any()
        if channel["type"] in ChannelType.THREADS:
            perms = self._require_bot(channel)
            meta = channel["thread_metadata"]
            is_owner = channel["owner_id"] == str(self.bot_user_id)
            needs_manage = (
                "locked" in changes
                or (meta["locked"] and changes.get("archived") is False)
                or (not is_owner and set(changes) - {"archived"})
            )
            if needs_manage and not perms & Perm.MANAGE_THREADS:
                raise _missing_permissions()
            if (
                meta["archived"]
                and changes.get("archived") is not False
                and set(changes) - {"archived", "locked"}
            ):
                raise _ApiError(400, 50083, "Thread is archived")
            if "applied_tags" in changes:
                self._check_tags(
                    self._channels.get(int(channel["parent_id"])), changes["applied_tags"], errors
                )
                errors.raise_if_any()
        else:
            self._require_bot(channel, Perm.MANAGE_CHANNELS)
        self._apply_channel_changes(channel, changes)
        self._broadcast_channel_update(channel)
        return channel

    async def _delete_channel_route(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        if channel["type"] in ChannelType.THREADS:
            self._require_bot(channel, Perm.MANAGE_THREADS)
        else:
            self._require_bot(channel, Perm.MANAGE_CHANNELS)
        self._delete_channel(channel)
        return channel

    def _delete_channel(self, channel: dict[str, Any]) -> None:
        self._forget_channel(channel)
        if channel["type"] in ChannelType.THREADS:
            self._broadcast(
                "THREAD_DELETE",
                {
                    "id": channel["id"],
                    "guild_id": channel["guild_id"],
                    "parent_id": channel["parent_id"],
                    "type": channel["type"],
                },
            )
        else:
            self._broadcast("CHANNEL_DELETE", channel)

    def _forget_channel(self, channel: dict[str, Any]) -> None:
        """Drop a channel, its threads and their messages from the state (no events)."""
        cid = int(channel["id"])
        for thread in self.threads(cid):
            self._forget_channel(thread)
        del self._channels[cid]
        for mid in self._channel_messages.pop(cid, []):
            self._messages.pop(mid, None)
        for starter in self._messages.values():
            if starter.get("thread", {}).get("id") == channel["id"]:
                starter.pop("thread")
                starter["flags"] &= ~MessageFlag.HAS_THREAD

    # ==================================================================================
    # REST handlers: messages
    # ==================================================================================

    def _validate_message(
        self, body: dict[str, Any], files: list[dict[str, Any]], *, creating: bool = True
    ) -> None:
        errors = _FormErrors()
        content = body.get("content")
        if content is not None and len(str(content)) > 2000:
            errors.add(["content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for i, embed in enumerate(embeds):
            total += self._validate_embed(embed, ["embeds", i], errors)
        if total > 6000:
            errors.add(
                ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )
        components = body.get("components") or []
        if len(components) > 5 and not (body.get("flags") or 0) & (1 << 15):
            errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        for comp in _walk_components(components):
            if "custom_id" in comp and not 1 <= len(comp["custom_id"] or "") <= 100:
                errors.add(
                    ["components"],
                    "BASE_TYPE_BAD_LENGTH",
                    "custom_id must be between 1 and 100 in length.",
                )
            if comp.get("type") == 2 and len(comp.get("label") or "") > 80:
                errors.add(
                    ["components"], "BASE_TYPE_MAX_LENGTH", "label must be 80 or fewer in length."
                )
            if comp.get("type") == 2 and comp.get("style") == 5 and not _is_url(comp.get("url")):
                errors.add(["components"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        errors.raise_if_any()
        if creating and not (
            content or embeds or components or files or body.get("sticker_ids") or body.get("poll")
        ):
            raise _ApiError(400, 50006, "Cannot send an empty message")

    def _validate_embed(self, embed: dict[str, Any], path: list[Any], errors: _FormErrors) -> int:
        limits = {"title": 256, "description": 4096}
        size = 0
        for key, limit in limits.items():
            text = embed.get(key) or ""
            size += len(text)
            if len(text) > limit:
                errors.add(
                    [*path, key], "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                )
        for key in ("url",):
            if embed.get(key) is not None and not _is_url(embed[key]):
                errors.add([*path, key], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        for key in ("image", "thumbnail"):
            sub = embed.get(key)
            if sub is not None and not _is_url(sub.get("url"), attachment=True):
                errors.add([*path, key, "url"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        author = embed.get("author") or {}
        size += len(author.get("name") or "")
        if len(author.get("name") or "") > 256:
            errors.add(
                [*path, "author", "name"], "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length."
            )
        if author.get("url") is not None and not _is_url(author["url"]):
            errors.add([*path, "author", "url"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        footer = embed.get("footer") or {}
        size += len(footer.get("text") or "")
        if len(footer.get("text") or "") > 2048:
            errors.add(
                [*path, "footer", "text"],
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2048 or fewer in length.",
            )
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add([*path, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, fld in enumerate(fields):
            name, value = fld.get("name") or "", fld.get("value") or ""
            size += len(name) + len(value)
            if not 1 <= len(name) <= 256:
                errors.add(
                    [*path, "fields", j, "name"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 256 in length.",
                )
            if not 1 <= len(value) <= 1024:
                errors.add(
                    [*path, "fields", j, "value"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1024 in length.",
                )
        color = embed.get("color")
        if color is not None and not 0 <= int(color) <= 0xFFFFFF:
            errors.add(
                [*path, "color"], "NUMBER_TYPE_MAX", "int value should be <= 16777215 and >= 0."
            )
        if embed.get("timestamp") is not None:
            try:
                datetime.datetime.fromisoformat(str(embed["timestamp"]).replace("Z", "+00:00"))
            except ValueError:
                errors.add([*path, "timestamp"], "DATE_TYPE_PARSE", "Could not parse timestamp.")
        return size

    def _mentions(
        self, channel: dict[str, Any], content: str, allowed: dict[str, Any] | None, bot_perms: int
    ) -> tuple[list[dict[str, Any]], list[str], bool]:
        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        allowed_users = {str(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
        users: dict[str, dict[str, Any]] = {}
        roles: list[str] = []
        everyone = False
        gid = int(channel["guild_id"])
        for user_id, role_id, word in _MENTION_RE.findall(content or ""):
            if user_id and ("users" in parse or user_id in allowed_users):
                users[user_id] = _public(self._user(int(user_id)))
            elif role_id and ("roles" in parse or role_id in allowed_roles):
                role = self._roles.get(int(role_id))
                if (
                    role is not None
                    and role["_guild_id"] == gid
                    and (role["mentionable"] or bot_perms & Perm.MENTION_EVERYONE)
                    and role_id not in roles
                ):
                    roles.append(role_id)
            elif word and "everyone" in parse and bot_perms & Perm.MENTION_EVERYONE:
                everyone = True
        return list(users.values()), roles, everyone

    def _store_message(
        self,
        channel: dict[str, Any],
        body: dict[str, Any],
        *,
        author: dict[str, Any],
        files: list[dict[str, Any]] | None = None,
        message_id: int | None = None,
        webhook_id: int | None = None,
        interaction: InteractionResult | None = None,
        msg_type: int = 0,
        visible: bool = True,
        bot_perms: int = ALL_PERMISSIONS,
    ) -> dict[str, Any]:
        """Create and store a message; ``visible`` False keeps it out of the channel's list
        and the gateway (ephemeral answers)."""
        mid = message_id or self._snowflake()
        cid = int(channel["id"])
        content = body.get("content") or ""
        mentions, mention_roles, everyone = self._mentions(
            channel, content, body.get("allowed_mentions"), bot_perms
        )
        embeds = [] if not bot_perms & Perm.EMBED_LINKS else copy.deepcopy(body.get("embeds") or [])
        for embed in embeds:
            embed.setdefault("type", "rich")
        flags = (body.get("flags") or 0) & (
            MessageFlag.SUPPRESS_EMBEDS | MessageFlag.EPHEMERAL | (1 << 12) | (1 << 15)
        )
        msg: dict[str, Any] = {
            "id": str(mid),
            "type": msg_type,
            "channel_id": str(cid),
            "author": _public(author),
            "content": content,
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "mention_channels": [],
            "attachments": self._attachments(cid, body, files or []),
            "embeds": embeds,
            "reactions": [],
            "pinned": False,
            "flags": flags,
            "components": copy.deepcopy(body.get("components") or []),
            "sticker_items": [],
        }
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if webhook_id is not None:
            msg["webhook_id"] = str(webhook_id)
        if interaction is not None:
            msg["application_id"] = str(self.application_id)
            msg["webhook_id"] = str(self.application_id)
            msg["interaction_metadata"] = {
                "id": str(interaction.interaction_id),
                "type": interaction.kind,
                "user": _public(self._user(interaction.user_id)),
                "authorizing_integration_owners": {"0": str(interaction.guild_id)},
            }
        self._messages[mid] = msg
        self._message_requests[mid] = copy.deepcopy(body)
        if visible and not flags & MessageFlag.EPHEMERAL:
            self._channel_messages.setdefault(cid, []).append(mid)
            if "last_message_id" in channel:
                channel["last_message_id"] = str(mid)
            if channel["type"] in ChannelType.THREADS:
                channel["message_count"] += 1
                channel["total_message_sent"] += 1
            if self.echo_messages:
                self._broadcast("MESSAGE_CREATE", {**msg, "guild_id": channel["guild_id"]})
        return msg

    def _attachments(
        self, cid: int, body: dict[str, Any], files: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        out = []
        for index, f in enumerate(files):
            aid = self._snowflake()
            url = f"{self.http_base}/attachments/{cid}/{aid}/{f['filename']}"
            meta = next(
                (a for a in body.get("attachments") or [] if str(a.get("id")) == str(index)), {}
            )
            out.append(
                {
                    "id": str(aid),
                    "filename": f["filename"],
                    "size": f["size"],
                    "url": url,
                    "proxy_url": url,
                    "content_type": f["content_type"],
                    "description": meta.get("description"),
                }
            )
        return out

    def _check_postable(self, channel: dict[str, Any]) -> int:
        """Permission and state checks for the bot posting in a channel or thread."""
        if channel["type"] == ChannelType.CATEGORY or channel["type"] in ChannelType.FORUMS:
            raise _ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if channel["type"] in ChannelType.THREADS:
            perms = self._require_bot(channel, Perm.SEND_MESSAGES_IN_THREADS)
            meta = channel["thread_metadata"]
            if meta["archived"]:
                if meta["locked"] and not perms & Perm.MANAGE_THREADS:
                    raise _ApiError(400, 50083, "Thread is archived")
                meta["archived"] = False
                meta["archive_timestamp"] = _iso()
                self._broadcast("THREAD_UPDATE", channel)
            return perms
        return self._require_bot(channel, Perm.SEND_MESSAGES)

    async def _post_message(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        perms = self._check_postable(channel)
        body = call.json
        if call.files and not perms & Perm.ATTACH_FILES:
            raise _missing_permissions()
        self._validate_message(body, call.files)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            key = (int(channel["id"]), str(nonce))
            previous = self._nonces.get(key)
            fresh = time.time() - self._nonce_times.get(key, 0.0) < self.nonce_window
            if previous is not None and previous in self._messages and fresh:
                return self._messages[previous]
        msg = self._store_message(
            channel, body, author=self.bot_user, files=call.files, bot_perms=perms
        )
        if nonce is not None:
            self._nonces[(int(channel["id"]), str(nonce))] = int(msg["id"])
            self._nonce_times[(int(channel["id"]), str(nonce))] = time.time()
        return msg

    async def _history(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        self._require_bot(channel, Perm.READ_MESSAGE_HISTORY)
        ids = list(self._channel_messages.get(int(channel["id"]), []))
        limit = max(1, min(100, int(call.query.get("limit", 50))))
        if "after" in call.query:
            after = int(call.query["after"])
            picked = [m for m in ids if m > after][:limit]
        else:
            before = int(call.query.get("before", 1 << 63))
            picked = [m for m in ids if m < before][-limit:]
        return [self._messages[m] for m in reversed(picked)]

    async def _get_message(self, call: _Call) -> Any:
        channel, msg = self._channel_message(call)
        self._require_bot(channel, Perm.READ_MESSAGE_HISTORY)
        return msg

    def _edit_stored_message(
        self, msg: dict[str, Any], body: dict[str, Any], files: list[dict[str, Any]]
    ) -> None:
        channel = self._channels.get(int(msg["channel_id"]))
        self._validate_message(body, files, creating=False)
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            msg["embeds"] = copy.deepcopy(body["embeds"] or [])
            for embed in msg["embeds"]:
                embed.setdefault("type", "rich")
        if "components" in body:
            msg["components"] = copy.deepcopy(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = msg["flags"] & ~MessageFlag.SUPPRESS_EMBEDS
            msg["flags"] = keep | (body["flags"] & MessageFlag.SUPPRESS_EMBEDS)
        if "attachments" in body or files:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            msg["attachments"] = [a for a in msg["attachments"] if a["id"] in kept_ids]
            msg["attachments"] += self._attachments(int(msg["channel_id"]), body, files)
        if channel is not None and ("content" in body or "allowed_mentions" in body):
            perms = self.bot_permissions(int(channel["id"]))
            allowed = body.get("allowed_mentions")
            if allowed is None:
                allowed = self._message_requests.get(int(msg["id"]), {}).get("allowed_mentions")
            msg["mentions"], msg["mention_roles"], msg["mention_everyone"] = self._mentions(
                channel, msg["content"], allowed, perms
            )
        msg["edited_timestamp"] = _iso()
        self._message_requests.setdefault(int(msg["id"]), {}).setdefault("edits", []).append(
            copy.deepcopy(body)
        )
        if channel is not None and int(msg["id"]) in self._channel_messages.get(
            int(channel["id"]), []
        ):
            self._broadcast("MESSAGE_UPDATE", {**msg, "guild_id": channel["guild_id"]})

    def _check_not_archived(self, channel: dict[str, Any] | None) -> None:
        meta = (channel or {}).get("thread_metadata")
        if meta is not None and meta["archived"]:
            raise _ApiError(400, 50083, "Thread is archived")

    async def _edit_message(self, call: _Call) -> Any:
        channel, msg = self._channel_message(call)
        self._require_bot(channel)
        self._check_not_archived(channel)
        if msg["author"]["id"] != str(self.bot_user_id):
            raise _ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit_stored_message(msg, call.json, call.files)
        return msg

    async def _delete_message_route(self, call: _Call) -> Any:
        channel, msg = self._channel_message(call)
        if msg["author"]["id"] != str(self.bot_user_id):
            self._require_bot(channel, Perm.MANAGE_MESSAGES)
        else:
            self._require_bot(channel)
        self._delete_message(msg)
        return None

    def _delete_message(self, msg: dict[str, Any]) -> None:
        mid, cid = int(msg["id"]), int(msg["channel_id"])
        self._messages.pop(mid, None)
        ids = self._channel_messages.get(cid, [])
        if mid in ids:
            ids.remove(mid)
            channel = self._channels.get(cid)
            payload = {"id": str(mid), "channel_id": str(cid)}
            if channel is not None:
                payload["guild_id"] = channel["guild_id"]
            self._broadcast("MESSAGE_DELETE", payload)

    async def _crosspost(self, call: _Call) -> Any:
        channel, msg = self._channel_message(call)
        if channel["type"] != ChannelType.NEWS:
            raise _ApiError(400, 50024, "Cannot execute action on this channel type")
        if msg["author"]["id"] == str(self.bot_user_id):
            self._require_bot(channel, Perm.SEND_MESSAGES)
        else:
            self._require_bot(channel, Perm.MANAGE_MESSAGES)
        if msg["flags"] & MessageFlag.CROSSPOSTED:
            raise _ApiError(400, 40033, "This message has already been crossposted.")
        msg["flags"] |= MessageFlag.CROSSPOSTED
        self._broadcast("MESSAGE_UPDATE", {**msg, "guild_id": channel["guild_id"]})
        return msg

    async def _react(self, call: _Call) -> Any:
        channel, msg = self._channel_message(call)
        self._require_bot(channel, Perm.ADD_REACTIONS, Perm.READ_MESSAGE_HISTORY)
        emoji = call.params["emoji"]
        for reaction in msg["reactions"]:
            if reaction["emoji"]["name"] == emoji:
                if not reaction["me"]:
                    reaction["me"] = True
                    reaction["count"] += 1
                return None
        msg["reactions"].append({"count": 1, "me": True, "emoji": {"id": None, "name": emoji}})
        return None

    # ==================================================================================
    # REST handlers: threads and forums
    # ==================================================================================

    def _new_thread(
        self,
        parent: dict[str, Any],
        tid: int,
        name: str,
        kind: int,
        *,
        auto_archive_duration: int,
        owner_id: int,
        applied_tags: list[str] | None = None,
        rate_limit_per_user: int | None = None,
    ) -> dict[str, Any]:
        thread: dict[str, Any] = {
            "id": str(tid),
            "type": kind,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": str(owner_id),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "rate_limit_per_user": rate_limit_per_user or 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": auto_archive_duration,
                "archive_timestamp": _iso(),
                "locked": False,
                "create_timestamp": _iso(),
            },
        }
        if kind == ChannelType.PRIVATE_THREAD:
            thread["thread_metadata"]["invitable"] = True
        if parent["type"] in ChannelType.FORUMS:
            thread["applied_tags"] = applied_tags or []
        self._channels[tid] = thread
        return thread

    def _validate_thread(self, body: dict[str, Any], errors: _FormErrors) -> None:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        duration = body.get("auto_archive_duration")
        if duration is not None and duration not in THREAD_ARCHIVE_DURATIONS:
            errors.add(
                ["auto_archive_duration"],
                "BASE_TYPE_CHOICES",
                "Value must be one of (60, 1440, 4320, 10080).",
            )

    def _check_tags(self, forum: dict[str, Any] | None, tags: Any, errors: _FormErrors) -> None:
        available = {t["id"] for t in (forum or {}).get("available_tags", [])}
        tags = [str(t) for t in tags or []]
        if len(tags) > 5:
            errors.add(["applied_tags"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
        for i, tag in enumerate(tags):
            if tag not in available:
                errors.add(
                    ["applied_tags", i], "BASE_TYPE_CHOICES", f"Value {tag} is not a valid tag."
                )

    def _thread_created(self, thread: dict[str, Any]) -> None:
        member = {
            "id": thread["id"],
            "user_id": str(self.bot_user_id),
            "join_timestamp": _iso(),
            "flags": 1,
        }
        self._broadcast("THREAD_CREATE", {**thread, "newly_created": True, "member": member})

    async def _thread_from_message(self, call: _Call) -> Any:
        channel, msg = self._channel_message(call)
        if channel["type"] not in (ChannelType.TEXT, ChannelType.NEWS):
            raise _ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require_bot(channel, Perm.CREATE_PUBLIC_THREADS, Perm.READ_MESSAGE_HISTORY)
        errors = _FormErrors()
        body = call.json
        self._validate_thread(body, errors)
        errors.raise_if_any()
        if "thread" in msg or int(msg["id"]) in self._channels:
            raise _ApiError(400, 160004, "A thread has already been created for this message")
        kind = (
            ChannelType.NEWS_THREAD
            if channel["type"] == ChannelType.NEWS
            else ChannelType.PUBLIC_THREAD
        )
        thread = self._new_thread(
            channel,
            int(msg["id"]),
            body["name"],
            kind,
            auto_archive_duration=body.get("auto_archive_duration")
            or channel.get("default_auto_archive_duration", 1440),
            owner_id=self.bot_user_id,
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )
        msg["thread"] = thread
        msg["flags"] |= MessageFlag.HAS_THREAD
        self._thread_created(thread)
        return thread

    async def _thread_in_channel(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        body = call.json
        errors = _FormErrors()
        self._validate_thread(body, errors)
        if channel["type"] in ChannelType.FORUMS:
            perms = self._require_bot(channel, Perm.SEND_MESSAGES)
            message_body = body.get("message") or {}
            self._check_tags(channel, body.get("applied_tags"), errors)
            errors.raise_if_any()
            if channel["flags"] & 16 and not body.get("applied_tags"):
                raise _ApiError(
                    400, 40067, "A tag is required to create a forum post in this channel"
                )
            self._validate_message(message_body, call.files)
            thread = self._new_thread(
                channel,
                self._snowflake(),
                body["name"],
                ChannelType.PUBLIC_THREAD,
                auto_archive_duration=body.get("auto_archive_duration")
                or channel["default_auto_archive_duration"],
                owner_id=self.bot_user_id,
                applied_tags=[str(t) for t in body.get("applied_tags") or []],
                rate_limit_per_user=body.get("rate_limit_per_user"),
            )
            self._thread_created(thread)
            message = self._store_message(
                thread,
                message_body,
                author=self.bot_user,
                files=call.files,
                message_id=int(thread["id"]),
                bot_perms=perms,
            )
            self._message_requests[int(message["id"])] = copy.deepcopy(body)
            return {**thread, "message": message}
        if channel["type"] not in (ChannelType.TEXT, ChannelType.NEWS):
            raise _ApiError(400, 50024, "Cannot execute action on this channel type")
        kind = body.get("type") or (
            ChannelType.NEWS_THREAD
            if channel["type"] == ChannelType.NEWS
            else ChannelType.PRIVATE_THREAD
        )
        needed = (
            Perm.CREATE_PRIVATE_THREADS
            if kind == ChannelType.PRIVATE_THREAD
            else Perm.CREATE_PUBLIC_THREADS
        )
        self._require_bot(channel, needed)
        errors.raise_if_any()
        thread = self._new_thread(
            channel,
            self._snowflake(),
            body["name"],
            kind,
            auto_archive_duration=body.get("auto_archive_duration")
            or channel.get("default_auto_archive_duration", 1440),
            owner_id=self.bot_user_id,
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )
        self._thread_created(thread)
        return thread

    # ==================================================================================
    # REST handlers: webhooks and interaction followups
    # ==================================================================================

    async def _list_webhooks(self, call: _Call) -> Any:
        if "cid" in call.params:
            channel = self._channel(call.id("cid"))
            self._require_bot(channel, Perm.MANAGE_WEBHOOKS)
            return self.webhooks(int(channel["id"]))
        gid = self._guild(call.id("gid"))["id"]
        return [w for w in self._webhooks.values() if w["guild_id"] == gid]

    async def _create_webhook(self, call: _Call) -> Any:
        channel = self._channel(call.id("cid"))
        if channel["type"] in ChannelType.THREADS or channel["type"] == ChannelType.CATEGORY:
            raise _ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require_bot(channel, Perm.MANAGE_WEBHOOKS)
        name = call.json.get("name") or ""
        if not 1 <= len(name) <= 80 or "discord" in name.lower() or "clyde" in name.lower():
            errors = _FormErrors()
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Webhook name is invalid.")
            errors.raise_if_any()
        wid = self._snowflake()
        webhook = {
            "id": str(wid),
            "type": 1,
            "guild_id": channel["guild_id"],
            "channel_id": channel["id"],
            "name": name,
            "avatar": None,
            "token": secrets.token_urlsafe(48),
            "application_id": str(self.application_id),
            "user": _public(self.bot_user),
        }
        self._webhooks[wid] = webhook
        return webhook

    def _webhook(self, call: _Call) -> dict[str, Any]:
        webhook = self._webhooks.get(call.id("wid"))
        if webhook is None or ("token" in call.params and call.params["token"] != webhook["token"]):
            raise _unknown("Webhook", 10015)
        return webhook

    async def _get_webhook(self, call: _Call) -> Any:
        webhook = self._webhook(call)
        if "token" in call.params:
            return {k: v for k, v in webhook.items() if k != "user"}
        return webhook

    async def _delete_webhook(self, call: _Call) -> Any:
        webhook = self._webhook(call)
        self._require_bot(self._channel(int(webhook["channel_id"])), Perm.MANAGE_WEBHOOKS)
        del self._webhooks[int(webhook["id"])]
        return None

    def _interaction_for(self, call: _Call) -> InteractionResult | None:
        """The interaction whose followup webhook this is (app id + interaction token)."""
        if call.id("wid") != self.application_id:
            return None
        for result in self._interactions.values():
            if result.token == call.params["token"]:
                return result
        raise _unknown("Webhook", 10015)

    async def _execute_webhook(self, call: _Call) -> Any:
        interaction = self._interaction_for(call)
        if interaction is not None:
            return await self._followup(interaction, call)
        webhook = self._webhook(call)
        body = call.json
        username = body.get("username")
        if username is not None and (
            not 1 <= len(username) <= 80
            or "discord" in username.lower()
            or "clyde" in username.lower()
        ):  # as Discord refuses webhook names (a display-name override included)
            errors = _FormErrors()
            errors.add(["username"], "USERNAME_INVALID", "Username is invalid.")
            errors.raise_if_any()
        channel = self._channel(int(webhook["channel_id"]))
        if "thread_id" in call.query:
            thread = self._channel(int(call.query["thread_id"]))
            if thread.get("parent_id") != channel["id"]:
                raise _unknown("Channel", 10003)
            channel = thread
            if thread["thread_metadata"]["archived"]:
                if thread["thread_metadata"]["locked"]:
                    raise _ApiError(400, 50083, "Thread is archived")
                thread["thread_metadata"]["archived"] = False
                self._broadcast("THREAD_UPDATE", thread)
        self._validate_message(body, call.files)
        author = {
            "id": webhook["id"],
            "username": body.get("username") or webhook["name"],
            "discriminator": "0000",
            "avatar": None,
            "bot": True,
            "global_name": None,
            "public_flags": 0,
        }
        if channel["type"] in ChannelType.FORUMS:
            if not body.get("thread_name"):
                raise _ApiError(
                    400,
                    220001,
                    "Webhooks posted to forum channels must have a thread_name or thread_id",
                )
            errors = _FormErrors()
            self._check_tags(channel, body.get("applied_tags"), errors)
            errors.raise_if_any()
            thread = self._new_thread(
                channel,
                self._snowflake(),
                body["thread_name"],
                ChannelType.PUBLIC_THREAD,
                auto_archive_duration=channel["default_auto_archive_duration"],
                owner_id=int(webhook["id"]),
                applied_tags=[str(t) for t in body.get("applied_tags") or []],
            )
            self._thread_created(thread)
            channel = thread
            msg = self._store_message(
                channel,
                body,
                author=author,
                files=call.files,
                message_id=int(thread["id"]),
                webhook_id=int(webhook["id"]),
            )
        else:
            msg = self._store_message(
                channel, body, author=author, files=call.files, webhook_id=int(webhook["id"])
            )
        if call.query.get("wait") in ("1", "true", "True"):
            return msg
        return None

    async def _followup(self, interaction: InteractionResult, call: _Call) -> Any:
        if interaction.callback is None:
            raise _unknown("Webhook", 10015)
        body = call.json
        self._validate_message(body, call.files)
        channel = self._channel(interaction.channel_id)
        original = interaction.message
        loading = (
            interaction.type == CallbackType.DEFERRED_CHANNEL_MESSAGE
            and original is not None
            and original["flags"] & MessageFlag.LOADING
        )
        if loading:
            # After a deferral the first followup replaces the "thinking" message; its
            # visibility is the deferral's, whatever flags the followup asks for.
            original["flags"] &= ~MessageFlag.LOADING
            self._edit_stored_message(
                original, {k: v for k, v in body.items() if k != "flags"}, call.files
            )
            original["edited_timestamp"] = None
            self._message_requests[int(original["id"])] = copy.deepcopy(body)
            msg = original
        else:
            msg = self._store_message(
                channel, body, author=self.bot_user, files=call.files, interaction=interaction
            )
        interaction.followups.append(msg)
        interaction._settled = True
        await interaction._notify()
        return msg

    def _webhook_message(self, call: _Call) -> tuple[InteractionResult | None, dict[str, Any]]:
        interaction = self._interaction_for(call)
        ref = call.params["ref"]
        if interaction is not None:
            if ref == "@original":
                if interaction.message is None:
                    raise _unknown("Message", 10008)
                return interaction, interaction.message
            for msg in interaction.messages:
                if msg["id"] == ref:
                    return interaction, msg
            raise _unknown("Message", 10008)
        webhook = self._webhook(call)
        if ref == "@original":
            raise _unknown("Message", 10008)
        msg = self._messages.get(int(ref))
        if msg is None or msg.get("webhook_id") != webhook["id"]:
            raise _unknown("Message", 10008)
        return None, msg

    async def _webhook_get_message(self, call: _Call) -> Any:
        return self._webhook_message(call)[1]

    async def _webhook_edit_message(self, call: _Call) -> Any:
        interaction, msg = self._webhook_message(call)
        self._check_not_archived(self._channels.get(int(msg["channel_id"])))
        was_loading = msg["flags"] & MessageFlag.LOADING
        msg["flags"] &= ~MessageFlag.LOADING
        self._edit_stored_message(msg, call.json, call.files)
        if was_loading:
            msg["edited_timestamp"] = None
        if interaction is not None:
            interaction._settled = True
            await interaction._notify()
        return msg

    async def _webhook_delete_message(self, call: _Call) -> Any:
        interaction, msg = self._webhook_message(call)
        self._delete_message(msg)
        if interaction is not None:
            interaction._settled = True
            await interaction._notify()
        return None

    async def _interaction_callback(self, call: _Call) -> Any:
        interaction = self._interactions.get(call.id("iid"))
        if interaction is None or interaction.token != call.params["token"]:
            raise _ApiError(404, 10062, "Unknown interaction")
        if interaction.callback is not None:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        deadline = self.interaction_deadline
        if deadline is not None and time.monotonic() - interaction._created > deadline:
            raise _ApiError(404, 10062, "Unknown interaction")
        body = call.json
        kind = body.get("type")
        data = body.get("data") or {}
        channel = self._channel(interaction.channel_id)
        info: dict[str, Any] = {"id": str(interaction.interaction_id), "type": interaction.kind}
        resource: dict[str, Any] = {"type": kind}
        allowed = {
            _INTERACTION_APPLICATION_COMMAND: {4, 5, 9},
            _INTERACTION_COMPONENT: {4, 5, 6, 7, 9},
            _INTERACTION_AUTOCOMPLETE: {8},
            _INTERACTION_MODAL_SUBMIT: {4, 5, 6, 7},
        }[interaction.kind]
        if kind not in allowed:
            raise _ApiError(
                400,
                50035,
                f"Invalid interaction response type {kind} for interaction type {interaction.kind}",
            )
        if kind == CallbackType.CHANNEL_MESSAGE:
            self._validate_message(data, call.files)
            msg_type = 20 if interaction.kind == _INTERACTION_APPLICATION_COMMAND else 19
            interaction.message = self._store_message(
                channel,
                data,
                author=self.bot_user,
                files=call.files,
                interaction=interaction,
                msg_type=msg_type,
            )
        elif kind == CallbackType.DEFERRED_CHANNEL_MESSAGE:
            flags = MessageFlag.LOADING | ((data.get("flags") or 0) & MessageFlag.EPHEMERAL)
            interaction.message = self._store_message(
                channel,
                {"content": "", "flags": 0},
                author=self.bot_user,
                interaction=interaction,
                msg_type=20 if interaction.kind == _INTERACTION_APPLICATION_COMMAND else 19,
                visible=not flags & MessageFlag.EPHEMERAL,
            )
            interaction.message["flags"] = flags
            info["response_message_loading"] = True
        elif kind == CallbackType.UPDATE_MESSAGE:
            if interaction.message is None:
                raise _ApiError(400, 50035, "No message to update")
            self._edit_stored_message(interaction.message, data, call.files)
        elif kind == CallbackType.AUTOCOMPLETE_RESULT:
            self._validate_choices(data.get("choices"))
        elif kind == CallbackType.MODAL:
            if not data.get("custom_id") or not data.get("title"):
                raise _ApiError(400, 50035, "Invalid Form Body")
        interaction.callback = copy.deepcopy(body)
        if kind in (
            CallbackType.CHANNEL_MESSAGE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
        ):
            msg = interaction.message
            info["response_message_id"] = msg["id"]
            info["response_message_ephemeral"] = bool(msg["flags"] & MessageFlag.EPHEMERAL)
            resource["message"] = msg
        interaction._settled = kind not in (
            CallbackType.DEFERRED_CHANNEL_MESSAGE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
        )
        await interaction._notify()
        return {"interaction": info, "resource": resource}

    def _validate_choices(self, choices: Any) -> None:
        errors = _FormErrors()
        choices = choices or []
        if len(choices) > 25:
            errors.add(
                ["data", "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        for i, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name", ""))) <= 100:
                errors.add(
                    ["data", "choices", i, "name"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            value = choice.get("value")
            if isinstance(value, str) and len(value) > 100:
                errors.add(
                    ["data", "choices", i, "value"],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 100 or fewer in length.",
                )
        errors.raise_if_any()


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object without the fake's private keys (those starting with '_')."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _is_url(value: Any, *, attachment: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    schemes = ("http://", "https://") + (("attachment://",) if attachment else ())
    return value.startswith(schemes) and len(value) > len("https://")
