"""Discord embeds from the renderer's plain announcements."""

from __future__ import annotations

import datetime as dt

import discord

from bot.render import Announcement, cut, escape_markdown

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


def announcement_text(announcement: Announcement, mention: str | None = None) -> str:
    """The announcement as bare text within 2,000 characters: what is sent when Discord
    refuses the embed (title, link, excerpt, feed; the link in <> shows no preview)."""
    head = f"{mention}\n" if mention else ""
    head += f"**{announcement.title or '(untitled)'}**"
    if announcement.url:
        head += f"\n<{announcement.url}>"
    foot = f"\n-# {escape_markdown(announcement.feed_title)}" if announcement.feed_title else ""
    budget = 2000 - len(head) - len(foot) - 1
    body = f"\n{cut(announcement.description, budget)}" if announcement.description else ""
    return cut(head + body + foot, 2000)
