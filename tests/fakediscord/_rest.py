"""REST plumbing: the route table, fault injection, identity and application commands."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakediscord._command_limits import check_command
from tests.fakediscord._internals import _ApiError, _Call, _json_response, _public, _unknown
from tests.fakediscord._records import CommandSync, Fault, RecordedRequest, Stall

log = logging.getLogger(__name__)


class RestMixin:
    """Part of FakeDiscord: routing REST requests, injected faults, identity and commands."""

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
            ("POST", f"/guilds/{gid}/roles", self._create_role, True),
            ("DELETE", f"/guilds/{gid}/roles/(?P<rid>\\d+)", self._delete_role, True),
            (
                "PUT",
                f"/guilds/{gid}/members/(?P<uid>\\d+)/roles/(?P<rid>\\d+)",
                self._add_member_role,
                True,
            ),
            (
                "DELETE",
                f"/guilds/{gid}/members/(?P<uid>\\d+)/roles/(?P<rid>\\d+)",
                self._remove_member_role,
                True,
            ),
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
        # --- Discord's rate limits, when turned on (see _ratelimits.py) ---
        limited, limit_headers = (None, {})
        if self.rate_limits is not None:
            limited, limit_headers = self.rate_limits.check(record.method, path)
        if limited is not None:
            record.status = 429
            return _json_response(limited, 429, limit_headers)
        # --- end of rate limits ---
        if await self._hold(record, carried_out=False):
            record.status = 503
            return _json_response({"message": "never reached Discord", "code": 0}, 503)
        response = await self._answer(request, record, body, files)
        response.headers.update(limit_headers)
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
        for index, spec in enumerate(specs):
            check_command(spec, [index])  # Discord refuses the whole list for one bad command
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
        check_command(call.json, [])
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
        check_command({**command, **call.json}, [])
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
