"""What `/feed list` says of a subscription's discussions."""

from __future__ import annotations

import discord

from bot.app import Gazette
from bot.models import Subscription
from bot.render.markdown import inline_markdown
from bot.tree import permission_names


def discussion_problems(channel, me: discord.Member | None, threads: bool) -> list[str]:
    """What the bot lacks, in a subscription's channel, for discussions (for `/feed list`)."""
    if channel is None or me is None:
        return []
    perms = channel.permissions_for(me)
    missing = []
    if threads and not isinstance(channel, discord.ForumChannel):
        missing += [
            n for n in ("create_public_threads", "read_message_history") if not getattr(perms, n)
        ]
    if not perms.manage_webhooks and not perms.send_messages_in_threads:
        missing.append("send_messages_in_threads")
    lines = []
    if missing:
        lines.append("⚠️ Discussions: missing " + permission_names(missing))
    if not perms.manage_webhooks:
        lines.append(
            "Comments appear as Gazette's own messages "
            "(give **Manage Webhooks** to show commenters' names and avatars)"
        )
    return lines


def discussion_status(bot: Gazette, sub: Subscription, error: str | None) -> list[str]:
    """Lines for `/feed list`: missing permissions and `error`, the last reason comments
    could not be shown."""
    channel = bot.get_channel(sub.channel_id)
    me = getattr(getattr(channel, "guild", None), "me", None)
    lines = discussion_problems(channel, me, sub.threads)
    if error:
        lines.append(f"⚠️ Comments not shown yet, retrying: {inline_markdown(error, 300)}")
    return lines
