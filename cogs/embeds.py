"""Discord embeds from the renderer's plain announcements."""

from __future__ import annotations

import datetime as dt

import discord

from bot.render import Announcement

GAZETTE_COLOUR = discord.Colour(0x2B6CB0)


def discord_time(timestamp: float, style: str = "f") -> str:
    return f"<t:{int(timestamp)}:{style}>"


def announcement_embed(announcement: Announcement) -> discord.Embed:
    embed = discord.Embed(
        title=announcement.title or "(untitled)",
        url=announcement.url,
        description=announcement.description or None,
        colour=GAZETTE_COLOUR,
    )
    if announcement.author:
        embed.set_author(name=announcement.author)
    if announcement.timestamp:
        embed.timestamp = dt.datetime.fromtimestamp(announcement.timestamp, dt.UTC)
        when = announcement.timestamp
        embed.add_field(
            name="Published", value=f"{discord_time(when)} ({discord_time(when, 'R')})", inline=True
        )
    if announcement.categories:
        embed.add_field(
            name="Categories", value=", ".join(announcement.categories)[:1024], inline=True
        )
    if announcement.image_url:
        embed.set_image(url=announcement.image_url)
    if announcement.feed_title:
        embed.set_footer(text=announcement.feed_title[:2048])
    return embed
