"""Channels: looked up once, the same way everywhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import discord

from bot.limits import CLOCK_SKEW


async def get_or_fetch_channel(bot: discord.Client, channel_id: int):
    """The channel or thread from the cache, else from Discord (archived threads are never
    cached). Discord's errors (NotFound, Forbidden, …) are raised as they are: each caller
    says what they mean for it."""
    channel = bot.get_channel(channel_id)
    if channel is not None:
        return channel
    return await bot.fetch_channel(channel_id)


def forum_tags(forum: discord.ForumChannel, categories: Iterable[str]) -> list[discord.ForumTag]:
    """The forum's tags named like the post's categories (case aside), at most Discord's 5."""
    wanted = {category.casefold() for category in categories}
    return [tag for tag in forum.available_tags if tag.name.casefold() in wanted][:5]


def missing_permissions(channel, me: discord.Member, needed: Iterable[str]) -> list[str]:
    """Which of the `needed` permissions (discord.py's names) the bot lacks in `channel`."""
    perms = channel.permissions_for(me)
    return [name for name in needed if not getattr(perms, name)]


def snowflake_before(timestamp: float) -> int:
    """The id below every message or thread made since `timestamp` (less CLOCK_SKEW, as our
    clock and Discord's may differ): where reading the history back starts."""
    since = dt.datetime.fromtimestamp(timestamp - CLOCK_SKEW, dt.UTC)
    return discord.utils.time_snowflake(since)
