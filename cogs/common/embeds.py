"""Discord embeds from the renderer's plain announcements."""

from __future__ import annotations

import datetime as dt

import discord

from bot.render.announcement import Announcement
from bot.render.markdown import (
    AUTHOR_LIMIT,
    DESCRIPTION_LIMIT,
    FIELD_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    TOTAL_LIMIT,
    cut,
    cut_plain,
    escape_markdown,
)

GAZETTE_COLOUR = discord.Colour(0x2B6CB0)


def discord_time(timestamp: float, style: str = "f") -> str:
    return f"<t:{int(timestamp)}:{style}>"


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """The embed within Discord's total of 6,000 characters: the description gives way."""
    excess = len(embed) - TOTAL_LIMIT
    if excess > 0 and embed.description:
        room = len(embed.description) - excess
        embed.description = cut(embed.description, room) if room > 0 else None
    return embed


def embed_identity(announcement: Announcement) -> tuple[str, str | None]:
    """The title and link any embed of this announcement shows (full or compact)."""
    return cut(announcement.title, TITLE_LIMIT) or "(untitled)", announcement.url


def announcement_embed(announcement: Announcement) -> discord.Embed:
    """The announcement as an embed; every part within its Discord limit whatever it holds
    (render_announcement already cuts; this holds for any Announcement)."""
    title, url = embed_identity(announcement)
    embed = discord.Embed(
        title=title,
        url=url,
        description=cut(announcement.description, DESCRIPTION_LIMIT) or None,
        colour=GAZETTE_COLOUR,
    )
    if announcement.author:
        embed.set_author(name=cut_plain(announcement.author, AUTHOR_LIMIT))
    if announcement.timestamp:
        embed.timestamp = dt.datetime.fromtimestamp(announcement.timestamp, dt.UTC)
        when = announcement.timestamp
        embed.add_field(
            name="Published", value=f"{discord_time(when)} ({discord_time(when, 'R')})", inline=True
        )
    if categories := cut(announcement.categories_text, FIELD_LIMIT):
        embed.add_field(name="Categories", value=categories, inline=True)
    if announcement.image_url:
        embed.set_image(url=announcement.image_url)
    if announcement.feed_title:
        embed.set_footer(text=cut_plain(announcement.feed_title, FOOTER_LIMIT))
    return fit_embed(embed)


def compact_embed(announcement: Announcement, line: str) -> discord.Embed:
    """The announcement as a small embed: its title as a link, the author, one line, the
    feed; no image, fields or long excerpt."""
    title, url = embed_identity(announcement)
    embed = discord.Embed(
        title=title,
        url=url,
        description=cut(line, DESCRIPTION_LIMIT) or None,
        colour=GAZETTE_COLOUR,
    )
    if announcement.author:
        embed.set_author(name=cut_plain(announcement.author, AUTHOR_LIMIT))
    if announcement.timestamp:
        embed.timestamp = dt.datetime.fromtimestamp(announcement.timestamp, dt.UTC)
    if announcement.feed_title:
        embed.set_footer(text=cut_plain(announcement.feed_title, FOOTER_LIMIT))
    return fit_embed(embed)


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
