"""Each channel's "Gazette" webhook: comments appear under the commenter's name and avatar."""

from __future__ import annotations

import logging

import discord

from bot.app import Gazette
from bot.scheduling import LockTable

log = logging.getLogger(__name__)

WEBHOOK_NAME = "Gazette"
UNKNOWN_WEBHOOK = 10015


class Webhooks:
    """The webhook of each parent channel, found or made once and remembered."""

    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self._hooks: dict[int, discord.Webhook] = {}  # parent channel id -> its webhook
        self._locks = LockTable()  # one lookup per channel at a time

    def forget(self, parent_id: int | None) -> None:
        """The webhook was deleted by someone: a new one is made next time."""
        self._hooks.pop(parent_id, None)

    async def get(self, parent) -> discord.Webhook | None:
        """The channel's Gazette webhook (made when missing), or None where not allowed."""
        if parent is None or not parent.permissions_for(parent.guild.me).manage_webhooks:
            return None
        hook = self._hooks.get(parent.id)
        if hook is not None:
            return hook
        async with self._locks(parent.id):
            hook = self._hooks.get(parent.id)
            if hook is not None:
                return hook
            try:
                hooks = await parent.webhooks()
                me = self.bot.user.id
                hook = next(
                    (
                        h
                        for h in hooks
                        if h.name == WEBHOOK_NAME and h.token and h.user and h.user.id == me
                    ),
                    None,
                )
                if hook is None:
                    hook = await parent.create_webhook(
                        name=WEBHOOK_NAME, reason="Gazette shows blog comments in threads"
                    )
            except discord.HTTPException as exc:
                log.info("no webhook in #%s (%s): comments as embeds", parent.name, exc)
                return None
            self._hooks[parent.id] = hook
            return hook
