"""The commands members use to send their words to the blog, and to take them back."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Gazette
from bot.errors import UserError
from bot.models import BlogReply, DiscussionInfo
from bot.render.markdown import cut_plain, inline_markdown, web_url
from bot.replies import ReplyError, ReplyOutcome

from ..common.autocomplete import choice_name, suggestions
from ..common.sending import NO_MENTIONS

log = logging.getLogger(__name__)

NOT_A_DISCUSSION = (
    "This works only in the discussion thread of an article (a thread Gazette opened for a "
    "post of a blog this server follows)."
)
MAX_SHOWN = 1800  # characters of /reply's text (its message adds a line under it)
# comments a member may send a minute, "Post to the blog" and `/reply post` together
SENDS_PER_MINUTE = 5

_USER = re.compile(r"<@!?([0-9]{1,20})>")
_ROLE = re.compile(r"<@&([0-9]{1,20})>")
_CHANNEL = re.compile(r"<#([0-9]{1,20})>")
_EMOJI = re.compile(r"<a?:([A-Za-z0-9_~]{1,32}):[0-9]{1,20}>")
_TIME = re.compile(r"<t:(-?[0-9]{1,13})(?::[tTdDfFR])?>")


def plain_mentions(
    text: str, guild: discord.Guild | None, users: dict[int, str] | None = None
) -> str:
    """Discord's markup for mentions, channels, emoji and times as words a blog reader
    understands ("@Name", "#channel", ":emoji:"); never an id."""
    users = users or {}

    def user(m: re.Match) -> str:
        uid = int(m.group(1))
        member = guild.get_member(uid) if guild else None
        return "@" + (users.get(uid) or (member.display_name if member else "someone"))

    def role(m: re.Match) -> str:
        found = guild.get_role(int(m.group(1))) if guild else None
        return "@" + (found.name if found else "role")

    def channel(m: re.Match) -> str:
        found = guild.get_channel_or_thread(int(m.group(1))) if guild else None
        return "#" + (found.name if found else "channel")

    def when(m: re.Match) -> str:
        try:
            stamp = dt.datetime.fromtimestamp(int(m.group(1)), dt.UTC)
        except (ValueError, OverflowError, OSError):
            return m.group(0)
        return stamp.strftime("%Y-%m-%d %H:%M UTC")

    text = _USER.sub(user, text)
    text = _ROLE.sub(role, text)
    text = _CHANNEL.sub(channel, text)
    text = _EMOJI.sub(lambda m: f":{m.group(1)}:", text)
    return _TIME.sub(when, text)


def outcome_text(outcome: ReplyOutcome) -> str:
    """What the member is told of their reply."""
    if outcome.state == "approved":
        url = web_url(outcome.link)
        return f"Posted on the blog: <{url}>" if url else "Posted on the blog."
    if outcome.state == "held":
        return "Sent to the blog: it awaits the blog's moderation."
    if outcome.state == "spam":
        return "Sent to the blog, whose spam filter held it for its moderators."
    return (
        f"Sent to the blog, but it did not confirm ({inline_markdown(outcome.note or '', 200)}). "
        "I will not send it again by myself: if it arrived it is recognised as yours and is "
        "not shown twice; if not, try again in a minute."
    )


def status_line(outcome: ReplyOutcome) -> str:
    """The line under /reply's message in the thread."""
    if outcome.state == "approved":
        url = web_url(outcome.link)
        return f"-# 💬 [On the blog](<{url}>)" if url else "-# 💬 On the blog"
    if outcome.state in ("held", "spam"):
        return "-# 💬 Sent to the blog · awaiting moderation"
    return "-# 💬 Sent to the blog · not confirmed yet"


class Replies(commands.Cog):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.replies = bot.replies
        self.post_menu = app_commands.ContextMenu(
            name="Post to the blog", callback=self.post_message
        )
        self.withdraw_menu = app_commands.ContextMenu(
            name="Withdraw from the blog", callback=self.withdraw_message
        )
        for menu in (self.post_menu, self.withdraw_menu):
            menu.guild_only = True
        # one allowance per member and server for both ways of sending
        self.sends: dict[tuple[int | None, int], app_commands.Cooldown] = {}

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.post_menu)
        self.bot.tree.add_command(self.withdraw_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.post_menu.name, type=self.post_menu.type)
        self.bot.tree.remove_command(self.withdraw_menu.name, type=self.withdraw_menu.type)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from the server: the application passwords its admins gave are forgotten."""
        if await self.store.remove_guild_connections(guild.id):
            log.info("left server %s: its blog connections are forgotten", guild.id)

    # --- shared ---------------------------------------------------------------------

    async def _discussion(self, interaction: discord.Interaction, channel_id: int):
        discussion = await self.store.thread_discussion(interaction.guild_id, channel_id)
        if discussion is None:
            raise UserError(NOT_A_DISCUSSION)
        return discussion

    def _spend_send(self, interaction: discord.Interaction) -> None:
        """Count a send against the member's allowance (UserError: none left)."""
        if len(self.sends) > 10_000:  # members idle for a minute have their whole allowance
            self.sends = {k: b for k, b in self.sends.items() if b.get_tokens() < b.rate}
        key = (interaction.guild_id, interaction.user.id)
        bucket = self.sends.setdefault(key, app_commands.Cooldown(SENDS_PER_MINUTE, 60.0))
        retry_after = bucket.update_rate_limit()
        if retry_after:
            raise UserError(f"Slow down: try again in {retry_after:.0f} s.")

    async def _post(self, interaction: discord.Interaction, **kwargs) -> ReplyOutcome:
        try:
            return await self.replies.post(
                guild_id=interaction.guild_id,
                member_id=interaction.user.id,
                member_name=interaction.user.display_name,
                **kwargs,
            )
        except ReplyError as exc:
            raise UserError(inline_markdown(str(exc), 1800)) from None

    async def _withdraw(self, interaction: discord.Interaction, reply: BlogReply | None) -> None:
        if reply is None or reply.guild_id != interaction.guild_id:
            raise UserError("That was not posted to the blog from this server.")
        if reply.member_id != interaction.user.id and not interaction.permissions.manage_messages:
            raise UserError(
                "Only the member who sent it (or a moderator with Manage Messages) can withdraw it."
            )
        try:
            text = await self.replies.withdraw(reply)
        except ReplyError as exc:
            raise UserError(inline_markdown(str(exc), 1800)) from None
        await interaction.followup.send(text, ephemeral=True)

    # --- "Post to the blog" ---------------------------------------------------------

    async def post_message(self, interaction: discord.Interaction, message: discord.Message):
        await interaction.response.defer(ephemeral=True, thinking=True)
        self._spend_send(interaction)
        if message.author.id != interaction.user.id:
            raise UserError("You can post only your own messages to the blog.")
        discussion = await self._discussion(interaction, message.channel.id)
        users = {u.id: getattr(u, "display_name", u.name) for u in message.mentions}
        text = plain_mentions(message.content or "", interaction.guild, users)
        parent = await self._parent(discussion, message)
        outcome = await self._post(
            interaction,
            discussion=discussion,
            text=text,
            source_key=f"message:{message.id}",
            message_id=message.id,
            parent_comment_id=parent,
        )
        await interaction.followup.send(outcome_text(outcome), ephemeral=True)

    async def _parent(self, discussion: DiscussionInfo, message: discord.Message) -> int | None:
        """The blog comment the message answers, when it is a Discord reply to one shown in
        the same thread."""
        ref = message.reference
        if ref is None or ref.message_id is None or ref.channel_id != message.channel.id:
            return None
        return await self.store.comment_shown_by(discussion.id, ref.message_id)

    @app_commands.checks.cooldown(5, 60.0, key=lambda i: (i.guild_id, i.user.id))
    async def withdraw_message(self, interaction: discord.Interaction, message: discord.Message):
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await self.store.reply_for_message(interaction.guild_id, message.id)
        await self._withdraw(interaction, reply)

    # --- /reply ---------------------------------------------------------------------

    reply = app_commands.Group(
        name="reply",
        description="Your words on the blog, from an article's discussion thread",
        guild_only=True,
    )

    @reply.command(name="post", description="Post a comment on this thread's article")
    @app_commands.describe(text="What to post on the blog, under your name")
    async def reply_post(
        self, interaction: discord.Interaction, text: app_commands.Range[str, 1, MAX_SHOWN]
    ) -> None:
        self._spend_send(interaction)
        discussion = await self._discussion(interaction, interaction.channel_id)
        text = plain_mentions(text, interaction.guild)
        if not text.strip():
            raise UserError("There is no text to post.")
        if len(text) > MAX_SHOWN:  # mentions written out as names can make it longer
            raise UserError(f"That is too long: {MAX_SHOWN:,} characters at most.")
        # shown in the thread at once: this message is the comment's place in the discussion
        await interaction.response.send_message(
            f"{text}\n-# 💬 Sending to the blog…", allowed_mentions=NO_MENTIONS
        )
        message = await interaction.original_response()
        try:
            outcome = await self._post(
                interaction,
                discussion=discussion,
                text=text,
                source_key=f"interaction:{interaction.id}",
                message_id=message.id,
                parent_comment_id=None,
            )
        except Exception:  # refused (UserError) or unexpected: either way not on the blog
            await self._forget(interaction)
            raise
        await self._set_status(interaction, text, status_line(outcome))
        await interaction.followup.send(outcome_text(outcome), ephemeral=True)

    async def _forget(self, interaction: discord.Interaction) -> None:
        """Not sent: the message that showed it goes."""
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.info("could not delete /reply's message: %s", exc)

    async def _set_status(self, interaction: discord.Interaction, text: str, line: str) -> None:
        try:
            await interaction.edit_original_response(
                content=f"{text}\n{line}", allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            log.info("could not update /reply's message: %s", exc)

    async def reply_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        everyone = interaction.permissions.manage_messages
        replies = await suggestions(
            self.store.member_replies(
                interaction.guild_id, None if everyone else interaction.user.id
            )
        )
        current = current.casefold()
        choices = []
        for reply in replies:
            text = choice_name(_shown_text(reply), f"Comment {reply.comment_id}")
            if current and current not in text.casefold():
                continue
            label = cut_plain(f"{text} ({reply.state})", 100)
            choices.append(app_commands.Choice(name=label, value=str(reply.id)))
        return choices[:25]

    @reply.command(name="withdraw", description="Take back a comment you sent to the blog")
    @app_commands.describe(comment="One of your comments sent from Discord")
    @app_commands.autocomplete(comment=reply_autocomplete)
    @app_commands.checks.cooldown(5, 60.0, key=lambda i: (i.guild_id, i.user.id))
    async def reply_withdraw(
        self, interaction: discord.Interaction, comment: app_commands.Range[str, 1, 30]
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        value = comment.strip()
        reply = None
        if value.isascii() and value.isdigit() and len(value) <= 18:
            reply = await self.store.get_reply(int(value))
        await self._withdraw(interaction, reply)


def _shown_text(reply: BlogReply) -> str:
    return html.unescape(reply.content)
