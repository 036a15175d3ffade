"""A blog comment as Discord shows it, and how its mirror is recognised after a crash."""

from __future__ import annotations

import datetime as dt
import re

import discord

from bot.render.comment import RenderedComment, shown_link
from bot.render.markdown import inline_markdown

from ..common.embeds import GAZETTE_COLOUR


def comment_embed(rendered: RenderedComment) -> discord.Embed:
    embed = discord.Embed(description=rendered.as_description(), colour=GAZETTE_COLOUR)
    embed.set_author(name=rendered.author, url=rendered.author_url, icon_url=rendered.avatar_url)
    if rendered.timestamp:
        embed.timestamp = dt.datetime.fromtimestamp(rendered.timestamp, dt.UTC)
    return embed


def comment_text(rendered: RenderedComment) -> str:
    """The comment as the bot's bare text (author on top): sent when Discord refuses the
    webhook message or the embed."""
    head = f"**{inline_markdown(rendered.author, 80, default='Someone')}**\n"
    return head + rendered.as_content(limit=2000 - len(head))


# The link line every form of a mirrored comment ends with (see RenderedComment)
_CONTENT_LINK = re.compile(r"-# \[Comment on the blog\]\(<(.+)>\)(?: · <t:\d+:f>)?")
_EMBED_LINK = re.compile(r"\[Comment on the blog\]\((.+)\)")


def shows_comment(message: discord.Message, rendered: RenderedComment) -> bool:
    """Whether a message is this comment's mirror: the blog link on its last line is this
    comment's, compared whole (#comment-1 is not #comment-12); without a link shown (none, or
    too long to show), the whole text."""
    forms = [(message.content or "", _CONTENT_LINK)]
    forms += [(embed.description or "", _EMBED_LINK) for embed in message.embeds]
    link = shown_link(rendered.link)
    if link is None:
        expected = {rendered.as_content(), rendered.as_description(), comment_text(rendered)}
        return any(text in expected for text, _ in forms)
    for text, pattern in forms:
        match = pattern.fullmatch(text.rsplit("\n", 1)[-1])
        if match is not None and match.group(1) == link:
            return True
    return False


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"
