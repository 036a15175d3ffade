"""The roles an announcement mentions: its subscription's mention role, then topic roles."""

from __future__ import annotations

import discord

from bot.models import Post
from bot.topics import roles_to_mention


def mentioned_roles(
    guild: discord.Guild | None,
    mention_role_id: int | None,
    topic_roles: dict[str, int],
    post: Post,
) -> list[int]:
    """Role ids to mention (capped, bot.topics): topic roles deleted by hand while Gazette
    was away are skipped (the role-delete event forgets the others)."""
    if topic_roles and guild is not None:
        topic_roles = {key: rid for key, rid in topic_roles.items() if guild.get_role(rid)}
    return roles_to_mention(mention_role_id, topic_roles, [*post.categories, *post.tags])
