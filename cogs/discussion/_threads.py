"""Opening a discussion's thread: on the announcement, on a short message, or as a forum post."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from bot.app import Gazette
from bot.errors import UserError
from bot.models import Post, Subscription
from bot.render.announcement import render_announcement
from bot.render.markdown import inline_markdown, thread_name
from bot.scheduling import LockTable
from bot.tree import permission_names

from ..common.channels import forum_tags, get_or_fetch_channel, missing_permissions
from ..common.embeds import announcement_embed
from ..common.sending import NO_MENTIONS

log = logging.getLogger(__name__)

THREAD_ALREADY_EXISTS = 160004
CLOSED_BY_MODERATORS = (
    "The discussion of that article was closed by this server's moderators (its thread was "
    "deleted), so I will not open it again."
)


class Threads:
    """Opens discussions' threads; `/discuss` opens each post's thread in a channel once."""

    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self._opening = LockTable()  # (post id, subscription id) -> one opening at a time

    async def discussion_thread(
        self, post: Post, sub: Subscription
    ) -> tuple[discord.Thread, bool, int]:
        """(thread, whether it was created now, discussion id) for the post in the channel."""
        async with self._opening((post.id, sub.id)):
            return await self._find_or_open(post, sub)

    async def _find_or_open(
        self, post: Post, sub: Subscription
    ) -> tuple[discord.Thread, bool, int]:
        """`discussion_thread`'s work, under its lock."""
        discussion = await self.store.find_discussion(post.id, sub.id)
        if discussion is not None and discussion.state == "deleted":
            raise UserError(CLOSED_BY_MODERATORS)
        if discussion is not None and discussion.thread_id:
            try:
                thread = await get_or_fetch_channel(self.bot, discussion.thread_id)
            except discord.NotFound:
                # deleted while Gazette was away (no THREAD_DELETE seen): closed the same
                await self.store.mark_discussion_deleted(discussion.id)
                raise UserError(CLOSED_BY_MODERATORS) from None
            except discord.HTTPException as exc:
                log.info("cannot look at thread %s: %s", discussion.thread_id, exc)
                raise UserError(
                    "Discord did not let me look at that discussion's thread; "
                    "try again in a moment."
                ) from None
            if isinstance(thread, discord.Thread):
                return thread, False, discussion.id
            await self.store.mark_discussion_deleted(discussion.id)
            raise UserError(CLOSED_BY_MODERATORS)
        channel = self.bot.get_channel(sub.channel_id)
        if channel is None:
            raise UserError("The channel this feed is announced in no longer exists.")
        announcement = None
        if discussion is None or discussion.thread_id is None:
            # never had a thread: hang it on the announcement, where there is one
            announcement = await self.store.announcement_message(post.id, sub.id)
        thread, starter = await self.open(channel, post, sub.auto_archive_minutes, announcement)
        discussion = await self.store.open_discussion(
            post.id, sub.id, thread.id, starter_message_id=starter
        )
        log.info("opened discussion %s of post %s in %s", discussion.id, post.id, thread.id)
        return thread, True, discussion.id

    async def open(
        self, channel, post: Post, auto_archive: int, announcement_id: int | None
    ) -> tuple[discord.Thread, int]:
        """A thread for the post in the channel: (thread, the message it hangs on).

        On the announcement when there is one without a thread; else on a new short message
        (a forum post in a forum). Missing permissions come out as UserError.
        """
        me = channel.guild.me
        perms = channel.permissions_for(me)
        name = thread_name(post.title)
        if isinstance(channel, discord.ForumChannel):
            missing = missing_permissions(channel, me, ("send_messages", "embed_links"))
            if missing:
                raise UserError(self._missing_text(channel, missing))
            return await self._forum_post(channel, post, name, auto_archive)
        if not isinstance(channel, discord.TextChannel):
            raise UserError("The feed's channel cannot hold threads.")
        needed = ["create_public_threads", "read_message_history"]
        if announcement_id is None:
            needed.append("send_messages")
        missing = missing_permissions(channel, me, needed)
        if missing:
            raise UserError(self._missing_text(channel, missing))
        if announcement_id is not None:
            try:
                thread = await channel.get_partial_message(announcement_id).create_thread(
                    name=name, auto_archive_duration=auto_archive
                )
                return thread, announcement_id
            except discord.HTTPException as exc:
                if exc.code == THREAD_ALREADY_EXISTS:  # a thread's id is its message's id
                    existing = await self._existing(announcement_id)
                    if existing is not None:
                        return existing, announcement_id
                elif not isinstance(exc, discord.NotFound):
                    raise UserError(self._failed_text(channel, exc)) from exc
                # the announcement is gone, or its thread was deleted: a new message
                if not perms.send_messages:
                    raise UserError(self._missing_text(channel, ["send_messages"])) from exc
        title = inline_markdown(post.title, 200, default="Untitled post")
        text = f"💬 Discussion of **{title}**"
        if post.link:
            text += f"\n<{post.link}>"
        try:
            message = await channel.send(text[:2000], allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            raise UserError(self._failed_text(channel, exc)) from exc
        try:
            thread = await message.create_thread(name=name, auto_archive_duration=auto_archive)
        except discord.HTTPException as exc:
            with contextlib.suppress(discord.HTTPException):
                await message.delete()
            raise UserError(self._failed_text(channel, exc)) from exc
        return thread, message.id

    async def _forum_post(self, forum: discord.ForumChannel, post: Post, name: str, auto_archive):
        announcement = await asyncio.to_thread(render_announcement, post, None)
        tags = forum_tags(forum, post.categories)
        try:
            created = await forum.create_thread(
                name=name,
                embed=announcement_embed(announcement),
                applied_tags=tags,
                auto_archive_duration=auto_archive,
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException as exc:
            raise UserError(self._failed_text(forum, exc)) from exc
        return created.thread, created.message.id

    async def _existing(self, thread_id: int) -> discord.Thread | None:
        try:
            thread = await get_or_fetch_channel(self.bot, thread_id)
        except discord.NotFound:
            return None
        except discord.HTTPException as exc:
            log.info("cannot look at thread %s: %s", thread_id, exc)
            return None
        return thread if isinstance(thread, discord.Thread) else None

    @staticmethod
    def _missing_text(channel, missing: list[str]) -> str:
        names = permission_names(missing)
        return f"I cannot open a discussion in {channel.mention}: I am missing {names}."

    @staticmethod
    def _failed_text(channel, exc: discord.HTTPException) -> str:
        if isinstance(exc, discord.Forbidden):
            return f"I cannot open a discussion in {channel.mention}: {exc.text}."
        return f"Discord refused to open a discussion in {channel.mention} ({exc.status})."
