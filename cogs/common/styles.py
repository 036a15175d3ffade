"""An announcement in its subscription's style (bot/render/style.py) as a Discord message."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.render.style import StyledAnnouncement
from bot.topics import role_mentions

from .embeds import announcement_embed, announcement_text, compact_embed, embed_identity


@dataclass(slots=True)
class AnnouncementMessage:
    """What is sent: the text, the embed (None in the link style), the plain text sent when
    Discord refuses that, and the only mentions it may ping."""

    content: str | None
    embed: discord.Embed | None
    plain: str
    mentions: discord.AllowedMentions
    identity: tuple[str, str | None]  # the title and link an embed of it shows, in any style


def announcement_mentions(role_ids: list[int]) -> discord.AllowedMentions:
    """The roles the announcement is meant to ping and nothing else: no @everyone, no user,
    whatever its text holds (a template's own text included)."""
    if not role_ids:
        return discord.AllowedMentions.none()
    roles = [discord.Object(role_id) for role_id in role_ids]
    return discord.AllowedMentions(everyone=False, users=False, roles=roles, replied_user=False)


def announcement_message(styled: StyledAnnouncement) -> AnnouncementMessage:
    shown = styled.announcement
    if styled.style == "link":
        embed = None
        plain = announcement_text(shown, role_mentions(styled.role_ids) or None)
    else:
        embed = compact_embed(shown, styled.line) if styled.style == "compact" else None
        embed = embed or announcement_embed(shown)
        plain = announcement_text(shown, styled.content)
    mentions = announcement_mentions(styled.role_ids)
    return AnnouncementMessage(styled.content, embed, plain, mentions, embed_identity(shown))
