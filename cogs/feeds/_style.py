"""`/feed style`: how a subscription's announcements look, previewed before it is saved."""

from __future__ import annotations

import asyncio

import discord

from bot.app import Gazette
from bot.errors import UserError
from bot.models import Subscription
from bot.render.markdown import inline_markdown
from bot.render.style import (
    CONTENT_LIMIT,
    STYLE_NAMES,
    TemplateError,
    check_template,
    render_styled,
)
from bot.topics import roles_to_mention

from ..common.pages import OwnedView
from ..common.styles import announcement_message

#: Seconds the Save and Cancel buttons wait before they disable themselves
STYLE_VIEW_TIMEOUT = 300.0
NO_PINGS = discord.AllowedMentions.none()


def chosen_template(sub: Subscription, template: str | None, no_template: bool) -> str | None:
    """The template the admin asks for: a new one (checked), none, or the one kept."""
    if template is not None and no_template:
        raise UserError("Give a `template` or `no_template`, not both.")
    if no_template:
        return None
    if template is None:
        return sub.template
    try:
        return check_template(template)
    except TemplateError as exc:
        raise UserError(str(exc)) from None


def style_summary(style: str, template: str | None) -> str:
    """The style and template in words (the template escaped: shown as typed)."""
    text = f"the **{STYLE_NAMES[style]}**"
    if template:
        text += f" with the text “{inline_markdown(template, 400)}”"
    return text


async def preview(
    bot: Gazette, sub: Subscription, style: str, template: str | None, note: str
) -> tuple[str, discord.Embed | None]:
    """`note`, then the newest post announced in `style` with `template`, as the channel
    would show it (the caller sends it ephemerally, pinging nobody)."""
    post = await bot.store.latest_post(sub.feed_id)
    if post is None:
        return f"{note}\n(The feed has no posts yet: nothing to preview.)", None
    # the roles this post would mention: the feed's own, then its topics' (bot.topics)
    topic_roles = await bot.store.topic_role_map(sub.id)
    roles = roles_to_mention(sub.mention_role_id, topic_roles, [*post.categories, *post.tags])
    budget = CONTENT_LIMIT - len(note) - 1
    shown = await asyncio.to_thread(
        render_styled, post, sub.feed_title, style, template, roles, limit=budget
    )
    message = announcement_message(shown)
    return (f"{note}\n{message.content}" if message.content else note), message.embed


class StyleView(OwnedView):
    """Save or Cancel under a preview: only Save stores the style."""

    not_yours = "These buttons belong to the admin who asked: run `/feed style` yourself."

    def __init__(
        self,
        bot: Gazette,
        interaction: discord.Interaction,
        sub: Subscription,
        style: str,
        template: str | None,
    ) -> None:
        super().__init__(interaction.user, interaction)
        self.timeout = STYLE_VIEW_TIMEOUT
        self.bot = bot
        self.sub = sub
        self.style = style
        self.template = template

    async def _close(self, interaction: discord.Interaction, text: str) -> None:
        self.stop()
        await interaction.response.edit_message(
            content=text, embed=None, view=None, allowed_mentions=NO_PINGS
        )

    @discord.ui.button(label="Save", style=discord.ButtonStyle.success)
    async def save(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        if not interaction.permissions.manage_guild:
            raise UserError("Saving a style needs Manage Server.")
        sub = self.sub
        saved = await self.bot.store.set_subscription_style(
            sub.guild_id, sub.id, self.style, self.template
        )
        if not saved:
            raise UserError("That feed is no longer followed here: nothing was saved.")
        await self._close(
            interaction,
            f"Saved: new announcements in <#{sub.channel_id}> use "
            f"{style_summary(self.style, self.template)}.",
        )

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._close(interaction, "Cancelled: the style was not changed.")
