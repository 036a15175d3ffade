"""The gateway: WebSocket sessions (IDENTIFY, RESUME, heartbeats) and event dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import secrets
from collections.abc import Iterable
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakediscord._constants import API_VERSION, HEARTBEAT_INTERVAL_MS, ChannelType
from tests.fakediscord._internals import _public

log = logging.getLogger(__name__)


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


class GatewayMixin:
    """Part of FakeDiscord: the gateway WebSocket and what it dispatches."""

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
        held = sorted(set(roles) | self._member_roles.get((gid, uid), set()))
        return {
            "roles": [str(r) for r in held],
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
