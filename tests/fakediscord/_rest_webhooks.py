"""REST handlers for webhooks, interaction followups and interaction callbacks."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from tests.fakediscord._constants import (
    _INTERACTION_APPLICATION_COMMAND,
    _INTERACTION_AUTOCOMPLETE,
    _INTERACTION_COMPONENT,
    _INTERACTION_MODAL_SUBMIT,
    CallbackType,
    ChannelType,
    MessageFlag,
    Perm,
)
from tests.fakediscord._interactions import InteractionResult
from tests.fakediscord._internals import _ApiError, _Call, _FormErrors, _public, _unknown


class WebhookRoutesMixin:
    """Part of FakeDiscord: webhooks and the bot's answers to interactions."""

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
        elif kind == CallbackType.MODAL and (not data.get("custom_id") or not data.get("title")):
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
