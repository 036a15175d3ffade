"""A comment's message in its thread: sent once (found again after a crash), edited, removed."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import discord

from bot.app import Gazette
from bot.models import DiscussionInfo, MirrorItem

from ..common.channels import snowflake_before
from ..common.sending import NO_MENTIONS, send_plainly
from ._comments import comment_embed, comment_text, shows_comment
from ._errors import MirrorFailed
from ._webhooks import UNKNOWN_WEBHOOK, Webhooks

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
# what a comment's message says once the blog removed the comment, where it cannot be deleted
REMOVED_TEXT = "-# This comment was removed from the blog."
# comments whose message was deleted once, remembered (this many, the latest) so that a blog
# flapping a comment (removed, approved, removed...) costs an edit per flip, never a new message
DELETED_MEMORY = 4096


class CommentMessages:
    """Sends and edits comments' messages, recording each in the store."""

    def __init__(self, bot: Gazette, webhooks: Webhooks) -> None:
        self.bot = bot
        self.store = bot.store
        self.webhooks = webhooks
        self._deleted: OrderedDict[tuple[int, int], None] = OrderedDict()

    async def send(self, discussion, thread, hook, item: MirrorItem, rendered) -> int:
        if item.started:  # a send cut short (crash, timeout): did it reach Discord?
            found = await self._find_sent(discussion, thread, item, rendered)
            if found is not None:
                await self.store.finish_mirror(
                    discussion.id,
                    item.comment.id,
                    message_id=found.id,
                    content_hash=item.content_hash,
                    via_webhook=found.webhook_id is not None,
                )
                return found.id
        nonce = await self.store.begin_mirror(
            discussion.id, discussion.post_id, item.comment.id, via_webhook=hook is not None
        )

        async def as_bot():  # the bot's own embed, when there is no webhook
            return await thread.send(
                embed=comment_embed(rendered), nonce=nonce, allowed_mentions=NO_MENTIONS
            )

        async def as_hook():
            nonlocal hook
            try:
                return await hook.send(
                    content=rendered.as_content(),
                    username=rendered.username,
                    avatar_url=rendered.avatar_url or discord.utils.MISSING,
                    thread=thread,
                    wait=True,
                    allowed_mentions=NO_MENTIONS,
                    suppress_embeds=True,
                )
            except discord.NotFound as exc:
                if exc.code != UNKNOWN_WEBHOOK:
                    raise
                # deleted by someone: use the bot's own message this time, a new hook later
                self.webhooks.forget(thread.parent_id)
                hook = None
                return await as_bot()

        async def plainly():  # bare text from the bot: what is left when Discord refuses
            nonlocal hook
            hook = None
            return await thread.send(
                comment_text(rendered), nonce=nonce, allowed_mentions=NO_MENTIONS
            )

        what = f"comment {item.comment.id}"
        message = await send_plainly(as_hook if hook is not None else as_bot, plainly, what)
        await self.store.finish_mirror(
            discussion.id,
            item.comment.id,
            message_id=message.id,
            content_hash=item.content_hash,
            via_webhook=hook is not None,
        )
        return message.id

    async def edit(self, discussion, thread, hook, item: MirrorItem, rendered) -> None:
        message = thread.get_partial_message(item.message_id)

        async def rich():
            if not item.via_webhook:
                return await message.edit(
                    embed=comment_embed(rendered), allowed_mentions=NO_MENTIONS
                )
            if hook is None:
                log.info("cannot edit webhook message %s: no webhook", item.message_id)
                return None
            return await hook.edit_message(
                item.message_id,
                content=rendered.as_content(),
                thread=thread,
                allowed_mentions=NO_MENTIONS,
            )

        async def plainly():
            if not item.via_webhook:
                return await message.edit(
                    content=comment_text(rendered), embed=None, allowed_mentions=NO_MENTIONS
                )
            if hook is None:
                return None
            return await hook.edit_message(
                item.message_id,
                content=comment_text(rendered),
                thread=thread,
                allowed_mentions=NO_MENTIONS,
            )

        try:
            await send_plainly(rich, plainly, f"edit of comment {item.comment.id}")
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_CHANNEL:
                raise
            # the message was deleted by a moderator, or the webhook replaced: leave it be
            log.info("mirrored message %s cannot be edited: %s", item.message_id, exc.text)
            if exc.code == UNKNOWN_WEBHOOK:
                self.webhooks.forget(thread.parent_id)
        await self.store.finish_mirror(
            discussion.id,
            item.comment.id,
            message_id=None,
            content_hash=item.content_hash,
            via_webhook=item.via_webhook,
        )

    async def remove(self, discussion, thread, hook, item: MirrorItem, rendered) -> None:
        """The blog no longer shows the comment: its message leaves the thread (deleted, or
        edited to say so where Discord refuses the deletion) and the mirror is forgotten, so
        that, approved again, the comment is sent anew, once. Only the message recorded for
        this comment (or found as its send cut short) is touched."""
        message_id, via_webhook = item.message_id, item.via_webhook
        if message_id is None:
            found = None
            if item.started:  # a send cut short: did it reach Discord?
                found = await self._find_sent(discussion, thread, item, rendered)
            if found is None:
                await self.store.forget_mirror(discussion.id, item.comment.id)
                return
            message_id, via_webhook = found.id, found.webhook_id is not None
        key = (discussion.id, item.comment.id)
        if key in self._deleted and (hook is not None or not via_webhook):
            # removed before, then approved again: flapping. The message stays, edited to say
            # so; approved again, it is edited back (an edit per flip, not a delete and a send)
            log.info("comment %s removed again: its message says so", item.comment.id)
            try:
                await self._say_removed(thread, hook, message_id, via_webhook)
            except MirrorFailed:
                pass  # an earlier webhook's message: deleted as any other
            else:
                await self.store.mirror_removed(discussion.id, item.comment.id, message_id)
                return
        try:
            await self._delete(thread, hook, message_id, via_webhook, rendered)
        except discord.Forbidden as exc:
            log.info("cannot delete message %s (%s): saying it was removed", message_id, exc.text)
            await self._say_removed(thread, hook, message_id, via_webhook)
            await self.store.mirror_removed(discussion.id, item.comment.id, message_id)
            return
        await self.store.forget_mirror(discussion.id, item.comment.id)
        self._deleted[key] = None
        if len(self._deleted) > DELETED_MEMORY:
            self._deleted.popitem(last=False)
        log.info("comment %s removed from thread %s", item.comment.id, thread.id)

    async def _delete(self, thread, hook, message_id: int, via_webhook: bool, rendered) -> None:
        """Delete the comment's message (already gone is as good); Forbidden if refused."""
        try:
            if not via_webhook:  # the bot's own message
                await thread.get_partial_message(message_id).delete()
                return
            if hook is not None:
                try:
                    await hook.delete_message(message_id, thread=thread)
                    return
                except discord.NotFound as exc:
                    if exc.code == UNKNOWN_WEBHOOK:
                        self.webhooks.forget(thread.parent_id)
                    elif exc.code != UNKNOWN_MESSAGE:
                        raise
            # gone, or sent by a Gazette webhook since replaced: deleted by the bot (Manage
            # Messages) once read back and seen to be a webhook message showing this comment
            message = await thread.fetch_message(message_id)
            if message.webhook_id is None or not shows_comment(message, rendered):
                log.warning("message %s does not show %s: left alone", message_id, rendered.link)
                return
            await message.delete()
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_MESSAGE:
                raise  # the thread is gone (handled by the caller)

    async def _say_removed(self, thread, hook, message_id: int, via_webhook: bool) -> None:
        try:
            if not via_webhook:
                await thread.get_partial_message(message_id).edit(
                    content=REMOVED_TEXT, embed=None, allowed_mentions=NO_MENTIONS
                )
                return
            if hook is None:
                raise MirrorFailed(
                    "cannot remove the message of a comment removed from the blog: "
                    "I am missing Manage Messages or Manage Webhooks"
                )
            await hook.edit_message(
                message_id, content=REMOVED_TEXT, thread=thread, allowed_mentions=NO_MENTIONS
            )
        except discord.NotFound as exc:
            if exc.code != UNKNOWN_MESSAGE:
                raise
            if via_webhook:  # there, but not this webhook's: an earlier one's
                raise MirrorFailed(
                    "cannot remove the message of a comment removed from the blog (sent by an "
                    "earlier webhook): I am missing Manage Messages"
                ) from exc
            # deleted meanwhile: gone is as good

    async def _find_sent(
        self, discussion: DiscussionInfo, thread: discord.Thread, item: MirrorItem, rendered
    ) -> discord.Message | None:
        """The message a cut-short send of this comment left in the thread, if any.

        Everything written in the thread since the discussion's last message confirmed before
        the send began is read (page after page), and each message of the bot or a webhook is
        compared with this comment exactly: the link its footer carries, whole.
        """
        started = item.started_at or time.time()
        floor = await self.store.mirror_floor(discussion.id, started)
        since = snowflake_before(started)
        after = max(floor or 0, since, thread.id)
        me = self.bot.user.id
        try:
            async for message in thread.history(
                limit=None, after=discord.Object(after), oldest_first=True
            ):
                if message.author.id != me and message.webhook_id is None:
                    continue
                if shows_comment(message, rendered):
                    return message
        except discord.Forbidden as exc:
            # cannot read the thread (Read Message History): sending again is all there is
            log.warning("cannot look for an earlier send in %s: %s", thread.id, exc)
        except discord.HTTPException as exc:
            raise MirrorFailed(f"cannot read the thread back ({exc.status}): {exc.text}") from exc
        return None
