"""Interactions from the user's side: invoke, autocomplete, click, submit a modal; their results."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from tests.fakediscord._constants import (
    _INTERACTION_APPLICATION_COMMAND,
    _INTERACTION_AUTOCOMPLETE,
    _INTERACTION_COMPONENT,
    _INTERACTION_MODAL_SUBMIT,
    _OPTION_ATTACHMENT,
    _OPTION_BOOLEAN,
    _OPTION_CHANNEL,
    _OPTION_GROUP,
    _OPTION_INTEGER,
    _OPTION_MENTIONABLE,
    _OPTION_NUMBER,
    _OPTION_ROLE,
    _OPTION_STRING,
    _OPTION_SUBCOMMAND,
    _OPTION_USER,
    CallbackType,
    MessageFlag,
    Perm,
)
from tests.fakediscord._internals import _public, _snowflake_str, _walk_components


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


class InteractionsMixin:
    """Part of FakeDiscord: what a user does with the bot's commands and components."""

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
            value = self._attachment_option(raw, resolved)
        else:
            raise ValueError(f"option {name!r} has unexpected type {kind}")
        choices = d.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ValueError(f"option {name!r}: {value!r} is not one of its choices")
        return value

    # --- attachment options: files a user attaches to a command ------------------------

    def upload(self, filename: str, content: bytes, content_type: str = "text/x-opml") -> dict:
        """A file as a user attaches it to a command: pass it as an attachment option's
        value. Served at its URL (GET), as Discord's CDN serves attachments."""
        return {"filename": filename, "content": content, "content_type": content_type}

    def _attachment_option(self, raw: Any, resolved: dict[str, dict[str, Any]]) -> str:
        if not isinstance(raw, dict) or "content" not in raw:
            raise ValueError("an attachment option takes fake.upload(filename, content)")
        aid = str(self._snowflake())
        self._uploads[aid] = (raw["content"], raw["content_type"])
        url = f"{self.http_base}/attachments/{aid}/{raw['filename']}"
        resolved.setdefault("attachments", {})[aid] = {
            "id": aid,
            "filename": raw["filename"],
            "size": len(raw["content"]),
            "url": url,
            "proxy_url": url,
            "content_type": raw["content_type"],
        }
        return aid

    async def _upload_handler(self, request: web.Request) -> web.Response:
        found = self._uploads.get(request.match_info["aid"])
        if found is None:
            raise web.HTTPNotFound
        return web.Response(body=found[0], content_type=found[1])

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

    # --- message context menus (Apps → a command on a message) -------------------------

    async def invoke_message_command(
        self,
        message_id: int,
        name: str,
        *,
        user_id: int | None = None,
        user_permissions: int | None = None,
        roles: Iterable[int] = (),
        locale: str = "en-US",
        timeout: float = 5.0,  # noqa: ASYNC109
        wait: bool = True,
        check_default_permissions: bool = True,
    ) -> InteractionResult:
        """A user runs the message command ``name`` on a message (right-click → Apps).

        As on Discord, the interaction carries the target message whole in
        ``data.resolved.messages`` (content included: no message-content intent is needed),
        and ``data.target_id``. The command must be registered (type 3) for the guild or
        globally; its ``default_member_permissions`` are checked as for slash commands.
        """
        msg = self._message(message_id)
        channel = self._channel(int(msg["channel_id"]))
        guild_id = int(channel["guild_id"])
        guild = self._guild(guild_id)
        user_id = user_id or self.owner_id
        if user_permissions is None:
            user_permissions = self._user_permissions(guild_id, channel, user_id, roles)
        definition = next(
            (
                c
                for c in [
                    *self._guild_commands.get(guild_id, {}).values(),
                    *self._global_commands.values(),
                ]
                if c.get("type") == 3 and c["name"] == name
            ),
            None,
        )
        if definition is None:
            raise LookupError(f"no message command {name!r} registered; did the bot sync?")
        if check_default_permissions:
            self._check_default_permissions(definition, user_permissions, name)
        data: dict[str, Any] = {
            "id": definition["id"],
            "name": name,
            "type": 3,
            "target_id": msg["id"],
            "guild_id": definition.get("guild_id") or str(guild_id),
            "resolved": {"messages": {msg["id"]: {**msg, "guild_id": str(guild_id)}}},
        }
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
