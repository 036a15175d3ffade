"""`/feed connect` and `/feed disconnect`: replies back to the blog, per server and feed."""

from __future__ import annotations

import discord

from bot.app import Gazette
from bot.errors import UserError
from bot.models import Subscription
from bot.render.markdown import inline_markdown
from bot.replies import ReplyError, site_of

from ._listing import link_text


async def connect_text(
    bot: Gazette,
    interaction: discord.Interaction,
    sub: Subscription,
    username: str,
    password: str,
) -> str:
    """Check the application password against the blog, store it; what to tell the admin."""
    feed = await bot.store.get_feed(sub.feed_id)
    site = site_of(sub.feed_url, feed.site_url if feed else None)
    try:
        connection = await bot.replies.connect(
            guild_id=interaction.guild_id,
            feed_id=sub.feed_id,
            site=site,
            username=username,
            password=password,
            by=interaction.user.id,
        )
    except ReplyError as exc:
        raise UserError(inline_markdown(str(exc), 1800)) from None
    name = inline_markdown(connection.wp_user_name, 100)
    if connection.can_moderate:
        moderation = (
            "This account can moderate comments, so the blog publishes members' replies at "
            "once and members can withdraw them. (Connect an account without that right to "
            "have replies go through the blog's moderation.)"
        )
    else:
        moderation = (
            "Replies go through the blog's moderation settings. This account cannot moderate "
            "comments: members can withdraw their replies only on articles it may edit."
        )
    return (
        f"Connected {link_text(sub.feed_url)} as **{name}**. In an article's discussion "
        "thread, members can now use **Post to the blog** on their own messages (Apps menu) "
        "or `/reply post`; their name is shown on the blog with “via Discord”. "
        f"{moderation}\nOnly this server uses this connection; `/feed disconnect` ends it."
    )


async def disconnect_text(bot: Gazette, interaction: discord.Interaction, sub: Subscription) -> str:
    if not await bot.replies.disconnect(interaction.guild_id, sub.feed_id):
        return f"{link_text(sub.feed_url)} was not connected for replies."
    return (
        f"Disconnected {link_text(sub.feed_url)}: members can no longer post to the blog, "
        "and its application password is forgotten. (Revoke it on the blog too, under "
        "Users → Profile → Application Passwords.)"
    )
