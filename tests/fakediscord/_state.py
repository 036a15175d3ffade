"""The fake's state: users, guilds, roles, channels, threads, messages, permissions."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from tests.fakediscord._constants import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DISCORD_EPOCH_MS,
    ChannelType,
    MessageFlag,
    Perm,
)
from tests.fakediscord._internals import (
    _Call,
    _iso,
    _missing_access,
    _missing_permissions,
    _public,
    _unknown,
)
from tests.fakediscord._records import RecordedRequest


class StateMixin:
    """Part of FakeDiscord: building and reading the state, and permission checks."""

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
        self,
        guild_id: int,
        name: str,
        *,
        permissions: int = 0,
        mentionable: bool = False,
        position: int = 0,
    ) -> int:
        """Create a role. A role is pinged by ``<@&id>`` only if ``mentionable`` or the bot
        has Mention Everyone (and allowed_mentions allows it). The bot's own role is at
        position 1: a role at ``position`` 2 or more is above it."""
        self._guild(guild_id)
        rid = self._snowflake()
        role = self._role_payload(guild_id, rid, name, permissions)
        role["mentionable"] = mentionable
        role["position"] = position
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
        self,
        channel_id: int,
        content: str,
        *,
        user_id: int | None = None,
        components: list[dict[str, Any]] | None = None,
    ) -> int:
        """A message written by a user (not the bot); dispatched as MESSAGE_CREATE.
        ``components``: what a modified client could claim to click on, to forge a
        component interaction (Discord's own client offers no such thing)."""
        author = self._user(user_id or self.owner_id)
        body: dict[str, Any] = {"content": content}
        if components:
            body["components"] = components
        msg = self._store_message(self._channel(channel_id), body, author=author)
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

    def post_user_reply(
        self, channel_id: int, content: str, reply_to: int, *, user_id: int | None = None
    ) -> int:
        """A user's message that replies to ``reply_to`` (Discord's "Reply"): it carries a
        ``message_reference`` and the ``referenced_message``; dispatched as MESSAGE_CREATE."""
        channel = self._channel(channel_id)
        referenced = self._message(reply_to)
        author = self._user(user_id or self.owner_id)
        msg = self._store_message(channel, {"content": content}, author=author, msg_type=19)
        msg["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
            "guild_id": channel["guild_id"],
        }
        msg["referenced_message"] = referenced
        return int(msg["id"])
