"""Sending to Discord: a rich item, or the same item plainly when Discord refuses it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

log = logging.getLogger(__name__)

# 400s that come from the channel, not from what was sent: slowmode, a forum that takes no
# message or requires a tag, a channel type that cannot take it, an archived or locked
# thread, too many active threads. Retried as the channel's problem, never skipped.
CHANNEL_REFUSALS = frozenset({20016, 40058, 40067, 50024, 50083, 160005, 160006, 160007})

NO_MENTIONS = discord.AllowedMentions.none()


class ItemRefused(Exception):
    """Discord refused this one item, its plain version too: retried a few times, then skipped.
    Never the channel's fault, so it holds up nothing behind it."""


def payload_refused(exc: discord.HTTPException) -> bool:
    """Whether Discord refused what was sent (400: invalid form body, say), not where."""
    return exc.status == 400 and exc.code not in CHANNEL_REFUSALS


async def send_plainly(rich: Callable[[], Awaitable], plain: Callable[[], Awaitable], what: str):
    """`rich()`; if Discord refuses its payload, `plain()` (the same item as bare text); if
    that is refused too, ItemRefused. Every other error is raised as it is."""
    try:
        return await rich()
    except discord.HTTPException as exc:
        if not payload_refused(exc):
            raise
        log.warning("%s refused (%s): sending it plainly", what, exc.text)
    try:
        return await plain()
    except discord.HTTPException as exc:
        if not payload_refused(exc):
            raise
        raise ItemRefused(f"Discord refused it, plain text too ({exc.code}): {exc.text}") from exc
