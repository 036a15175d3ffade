"""REST handlers for messages: validation, sending, history, edits, deletes, reactions."""

from __future__ import annotations

import copy
import datetime
import time
from typing import Any

from tests.fakediscord._constants import (
    _MENTION_RE,
    ALL_PERMISSIONS,
    ChannelType,
    MessageFlag,
    Perm,
)
from tests.fakediscord._interactions import InteractionResult
from tests.fakediscord._internals import (
    _ApiError,
    _Call,
    _FormErrors,
    _is_url,
    _iso,
    _missing_permissions,
    _public,
    _walk_components,
)


class MessageRoutesMixin:
    """Part of FakeDiscord: the message routes and the limits Discord enforces on them."""

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
