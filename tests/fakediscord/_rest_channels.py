"""REST handlers for guilds, channels, threads and forums."""

from __future__ import annotations

import copy
import datetime
from typing import Any

from tests.fakediscord._constants import THREAD_ARCHIVE_DURATIONS, ChannelType, MessageFlag, Perm
from tests.fakediscord._internals import (
    _ApiError,
    _Call,
    _FormErrors,
    _iso,
    _missing_access,
    _missing_permissions,
    _public,
    _unknown,
)


class ChannelRoutesMixin:
    """Part of FakeDiscord: the guild, channel, thread and forum routes."""

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
