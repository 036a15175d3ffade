"""Autocomplete: cheap lookups that never fail out loud, and choices Discord accepts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import discord
from discord import app_commands

from bot.render.markdown import cut_plain

from .visibility import viewable_channels

log = logging.getLogger(__name__)


async def suggestions(lookup: Awaitable[list]) -> list:
    """Autocomplete answers no error (discord.py would only log it): an empty list."""
    try:
        return await lookup
    except Exception:
        log.exception("autocomplete lookup failed")
        return []


def plain_line(text: str | None, limit: int) -> str:
    """Text shown where Discord renders no markdown (choice names, embed author): one line."""
    return cut_plain(" ".join((text or "").split()), limit)


def choice_name(text: str | None, fallback: str) -> str:
    """An autocomplete choice's name: plain text on one line, 1 to 100 characters."""
    return plain_line(text, 100) or fallback


async def article_choices(store, interaction: discord.Interaction, current: str):
    """Autocomplete of the archive the member may read, by title (the value is the post id)."""
    if interaction.guild_id is None:
        return []
    titles = await suggestions(
        store.titles_like(
            interaction.guild_id,
            current or "",
            limit=25,
            channels=viewable_channels(interaction),
        )
    )
    return [
        app_commands.Choice(
            name=choice_name(title, f"Untitled post #{post_id}"), value=str(post_id)
        )
        for post_id, title in titles
    ]


def typed_post_id(value: str) -> int | None:
    """The post id in an article option (what autocomplete sends), or None: a member may
    type anything there ("²", twenty digits) and neither int() nor SQLite takes all of it."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None
