"""Showing a discussion's new and changed comments in its thread, one discussion at a time."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.app import Gazette
from bot.errors import UserError
from bot.limits import MAX_REFUSALS
from bot.models import DiscussionInfo, MirrorItem
from bot.render.comment import RenderedComment, render_comment

from ..common.channels import get_or_fetch_channel
from ..common.sending import ItemRefused
from ._comments import jump_url
from ._errors import MirrorFailed, ThreadGone
from ._messages import UNKNOWN_CHANNEL, CommentMessages
from ._threads import Threads
from ._webhooks import Webhooks

log = logging.getLogger(__name__)


class Mirror:
    """Mirrors one discussion: finds (or opens) its thread, then sends and edits."""

    def __init__(self, bot: Gazette, webhooks: Webhooks, threads: Threads) -> None:
        self.bot = bot
        self.store = bot.store
        self.webhooks = webhooks
        self.threads = threads
        self.messages = CommentMessages(bot, webhooks)

    async def mirror(self, discussion: DiscussionInfo) -> int:
        """Post the discussion's new comments and edit the changed ones; returns how many."""
        items = await self.store.mirror_items(discussion.id)
        # members' replies sent from this thread are shown by their own messages
        items = await self.bot.replies.claim_own(discussion, items)
        if not items:
            await self.store.mirror_done(discussion.id, discussion.mirror_due_at)
            return 0
        thread = await self._thread(discussion)
        if thread.locked:  # closed by a moderator: the comments wait until it is reopened
            raise MirrorFailed(f"the thread {thread.name!r} is locked")
        if thread.archived:
            await self._unarchive(thread)
        hook = await self.webhooks.get(thread.parent)
        done = 0
        refused: str | None = None  # why the last refused comment waits for another try
        parents: dict[int, int] = {}  # comment id -> message id, for replies in this round
        for item in items:
            parent_message = item.parent_message_id or parents.get(item.comment.parent_id or 0)
            rendered = await self._render(item, discussion, thread, parent_message)
            try:
                if item.removed:
                    await self.messages.remove(discussion, thread, hook, item, rendered)
                elif item.is_edit:
                    await self.messages.edit(discussion, thread, hook, item, rendered)
                else:
                    message_id = await self.messages.send(discussion, thread, hook, item, rendered)
                    parents[item.comment.id] = message_id
            except ItemRefused as exc:
                # the comment's own fault: it alone waits (then is skipped), the rest goes on
                if not await self._refused(discussion, item, str(exc)):
                    refused = str(exc)
                continue
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise ThreadGone from exc
                raise MirrorFailed(f"Discord answered 404: {exc.text}") from exc
            except discord.Forbidden as exc:
                raise MirrorFailed(
                    f"Missing permissions in the thread {thread.name!r}: {exc.text}"
                ) from exc
            except discord.HTTPException as exc:
                raise MirrorFailed(f"Discord answered {exc.status}: {exc.text}") from exc
            done += 1
        if refused is not None:
            raise MirrorFailed(refused)
        await self.store.mirror_done(discussion.id, discussion.mirror_due_at)
        log.info("discussion %s: %d comment(s) shown in %s", discussion.id, done, thread.id)
        return done

    async def _refused(self, discussion: DiscussionInfo, item: MirrorItem, error: str) -> bool:
        """Count a refusal of the comment; returns whether it is now skipped."""
        skipped = await self.store.refuse_mirror(
            discussion.id,
            discussion.post_id,
            item.comment.id,
            error,
            content_hash=item.content_hash,
            give_up_after=MAX_REFUSALS,
        )
        log.log(
            logging.WARNING if skipped else logging.INFO,
            "comment %s %s in discussion %s: %s",
            item.comment.id,
            "skipped" if skipped else "refused",
            discussion.id,
            error,
        )
        return skipped

    async def _render(
        self,
        item: MirrorItem,
        discussion: DiscussionInfo,
        thread: discord.Thread,
        parent_message: int | None,
    ) -> RenderedComment:
        parent_url = (
            jump_url(discussion.guild_id, thread.id, parent_message) if parent_message else None
        )
        kwargs = dict(
            parent_author=item.parent_author, parent_html=item.parent_html, parent_url=parent_url
        )
        if len(item.comment.content_html) > 4000:
            return await asyncio.to_thread(render_comment, item.comment, **kwargs)
        return render_comment(item.comment, **kwargs)

    async def _unarchive(self, thread: discord.Thread) -> None:
        try:
            await thread.edit(archived=False)
        except discord.NotFound as exc:
            raise ThreadGone from exc
        except discord.HTTPException as exc:
            raise MirrorFailed(f"the thread {thread.name!r} is archived: {exc.text}") from exc

    async def _thread(self, discussion: DiscussionInfo) -> discord.Thread:
        if discussion.thread_id is None:
            return await self._open_late(discussion)
        try:
            thread = await get_or_fetch_channel(self.bot, discussion.thread_id)
        except discord.NotFound as exc:
            raise ThreadGone from exc
        except discord.Forbidden as exc:
            raise MirrorFailed("I cannot see the thread (missing View Channel)") from exc
        except discord.HTTPException as exc:
            raise MirrorFailed(f"Discord answered {exc.status}: {exc.text}") from exc
        if not isinstance(thread, discord.Thread):
            raise ThreadGone
        return thread

    async def _open_late(self, discussion: DiscussionInfo) -> discord.Thread:
        """The announcement got no thread (permissions, say); comments arrived: open it now."""
        post = await self.store.get_post(discussion.post_id)
        channel = await self._channel(discussion.channel_id)
        if post is None or channel is None:
            raise ThreadGone
        try:
            thread, starter = await self.threads.open(
                channel, post, discussion.auto_archive_minutes, discussion.starter_message_id
            )
        except UserError as exc:
            raise MirrorFailed(str(exc)) from exc
        await self.store.set_discussion_thread(discussion.id, thread.id)
        return thread

    async def _channel(self, channel_id: int):
        try:
            return await get_or_fetch_channel(self.bot, channel_id)
        except discord.NotFound:
            return None
        except discord.HTTPException as exc:
            raise MirrorFailed(f"cannot see the channel: {exc.text}") from exc
