"""Announcements follow the article: the edits owed (bot/store/edits.py) made in Discord.

Each owed edit is one announcement: its message (a forum post's starter message) rendered
again from the post's stored content, through the same safe renderer as when it was sent, and
its thread's name. An edit is idempotent, so one a crash cut short is simply made again after
restart; it is forgotten once made, or given up when Discord refuses it for good (the message
deleted by a moderator, missing permissions a few times in a row).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

import discord

from bot.app import Gazette
from bot.models import OwedEdit, Post
from bot.render.announcement import REMOVED_MARK
from bot.render.markdown import thread_name
from bot.render.style import render_styled
from bot.retry import retry_at
from bot.scheduling import create_task

from ..common.channels import forum_tags, get_or_fetch_channel
from ..common.sending import ItemRefused, send_plainly
from ..common.styles import announcement_message
from ._mentions import mentioned_roles

log = logging.getLogger(__name__)

#: Owed edits fetched per round
EDIT_BATCH = 200
#: Tries of one edit that Discord answers with an error (403, 5xx) before it is given up
MAX_EDIT_ATTEMPTS = 5
#: Discord's code for an archived thread (renaming or editing in it needs it reopened)
THREAD_ARCHIVED = 50083
#: Seconds a thread's rename may wait (Discord allows about 2 renames per thread per 10
#: minutes and answers more with a 429 that discord.py sleeps through): then the thread keeps
#: its name, and the channel's other edits go on
RENAME_WAIT = 20.0
#: Seconds a thread whose rename was held is not renamed again (Discord's window)
RENAME_HELD_FOR = 600.0
#: How often rows of posts out of the edit window are pruned
PRUNE_EVERY = 6 * 3600.0


class _GiveUp(Exception):
    """The edit cannot be made, ever (the message or channel is gone): forgotten."""


class Editor:
    """Makes the owed edits: one worker per channel, as announcements are sent."""

    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self._workers: dict[int, asyncio.Task] = {}  # channel id → its edit worker
        self.wake = asyncio.Event()  # edits were owed (a check), or a worker finished
        self._pruned_at = 0.0
        self._renames_held: dict[int, float] = {}  # thread id → when it may be renamed again

    async def edit_due(self) -> int:
        """Start making the edits whose time has come (channels whose worker is busy are
        left for it). Returns how many were started."""
        now = time.time()
        if now - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = now
            await self.store.prune_revisions(now - self.bot.settings.edit_window_days * 86400.0)
        due = await self.store.due_edits(now, EDIT_BATCH)
        by_channel: dict[int, list[OwedEdit]] = defaultdict(list)
        for edit in due:
            if edit.channel_id not in self._workers:
                by_channel[edit.channel_id].append(edit)
        for channel_id, edits in by_channel.items():
            self._workers[channel_id] = create_task(
                self._worker(channel_id, edits), name=f"edit announcements in #{channel_id}"
            )
        return sum(len(edits) for edits in by_channel.values())

    async def _worker(self, channel_id: int, edits: list[OwedEdit]) -> None:
        try:
            for edit in edits:
                await self._one(edit)
        finally:
            del self._workers[channel_id]
            self.wake.set()

    def cancel(self) -> None:
        for worker in list(self._workers.values()):
            worker.cancel()

    async def wait_for_workers(self) -> None:
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def _one(self, edit: OwedEdit) -> None:
        try:
            await self.apply(edit)
        except _GiveUp as exc:
            log.warning("announcement of post %s not edited: %s", edit.post_id, exc)
        except discord.HTTPException as exc:
            await self._failed(edit, f"Discord answered {exc.status}: {exc.text}")
            return
        except Exception as exc:
            log.exception("editing the announcement of post %s failed", edit.post_id)
            await self._failed(edit, f"unexpected error: {type(exc).__name__}")
            return
        await self.store.edit_done(edit)

    async def _failed(self, edit: OwedEdit, error: str) -> None:
        if edit.attempts + 1 >= MAX_EDIT_ATTEMPTS:
            log.warning(
                "announcement of post %s in #%s not edited, given up after %d tries: %s",
                edit.post_id,
                edit.channel_id,
                MAX_EDIT_ATTEMPTS,
                error,
            )
            await self.store.edit_done(edit)
            return
        log.info("editing the announcement of post %s postponed: %s", edit.post_id, error)
        timing = self.bot.timing
        when = retry_at(timing.delivery_backoff, edit.attempts, timing.delivery_backoff_cap)
        await self.store.edit_failed(edit.delivery_id, error, next_attempt_at=when)

    async def apply(self, edit: OwedEdit) -> None:
        """The announcement (message and thread name) as the post now is."""
        post = await self.store.get_post(edit.post_id)
        if post is None:
            raise _GiveUp("the post went away with its feed")
        channel = await self._get(edit.channel_id, "the channel")
        name = thread_name(f"{REMOVED_MARK} {post.title}" if edit.removed else post.title)
        if isinstance(channel, discord.ForumChannel):
            # a forum post: the thread is the announcement, its starter message has its id
            thread = await self._get(edit.thread_id or edit.message_id, "the forum post")
            tags = forum_tags(channel, post.categories)
            reopened = await self._rename(thread, name, tags, for_message=True)
            try:
                await self._edit_message(thread.get_partial_message(edit.message_id), edit, post)
            finally:
                if reopened:
                    await self._close(thread)
            return
        await self._edit_message(channel.get_partial_message(edit.message_id), edit, post)
        if edit.thread_id:
            try:
                thread = await self._get(edit.thread_id, "the thread")
            except _GiveUp as exc:
                log.info("thread of post %s not renamed: %s", edit.post_id, exc)
                return
            if await self._rename(thread, name):
                await self._close(thread)

    async def _get(self, channel_id: int, what: str):
        try:
            return await get_or_fetch_channel(self.bot, channel_id)
        except discord.NotFound as exc:
            raise _GiveUp(f"{what} no longer exists") from exc

    async def _edit_message(self, message, edit: OwedEdit, post: Post) -> None:
        # in the style it was sent in, naming the roles as announced (those since deleted
        # left out); an edit pings nobody
        topic_roles = await self.store.delivery_topic_role_map(edit.delivery_id)
        guild = getattr(message, "guild", None)
        roles = mentioned_roles(guild, edit.mention_role_id, topic_roles, post)
        shown = await asyncio.to_thread(
            render_styled,
            post,
            edit.feed_title,
            edit.style,
            edit.template,
            roles,
            removed=edit.removed,
        )
        new = announcement_message(shown)
        # a link message keeps the preview Discord made of its link: its embeds are left be
        embeds = {} if new.embed is None else {"embed": new.embed}
        mentions = discord.AllowedMentions.none()
        try:
            await send_plainly(
                lambda: message.edit(content=new.content, allowed_mentions=mentions, **embeds),
                lambda: message.edit(content=new.plain, embed=None, allowed_mentions=mentions),
                f"edit of post {post.id}",
            )
        except discord.NotFound as exc:
            raise _GiveUp("the announcement was deleted") from exc
        except ItemRefused as exc:
            raise _GiveUp(str(exc)) from exc
        log.info("announcement of post %s edited in #%s", post.id, edit.channel_id)

    async def _rename(self, thread, name: str, tags=None, *, for_message: bool = False) -> bool:
        """The thread named `name` (a forum post: tagged `tags`), reopened for it if it was
        archived (`for_message`: also to edit its starter message): returns whether it was
        reopened (to be closed again). A refusal is logged: the announcement's message
        matters more than its thread's name."""
        changes: dict = {}
        now = time.monotonic()
        if thread.name != name and self._renames_held.get(thread.id, 0.0) <= now:
            changes["name"] = name
        if tags is not None and {t.id for t in tags} != {t.id for t in thread.applied_tags}:
            changes["applied_tags"] = tags
        reopen = bool(getattr(thread, "archived", False)) and (bool(changes) or for_message)
        if not changes and not reopen:
            return False
        if reopen:
            changes["archived"] = False
        try:
            async with asyncio.timeout(RENAME_WAIT):
                await thread.edit(**changes)
        except TimeoutError:
            # not asked again for a while: each try would hold the channel's edits again
            self._renames_held = {t: at for t, at in self._renames_held.items() if at > now}
            self._renames_held[thread.id] = now + RENAME_HELD_FOR
            log.warning("thread %s not renamed: Discord held the rename (rate limit)", thread.id)
            return False
        except discord.HTTPException as exc:
            if exc.code == THREAD_ARCHIVED and not reopen:  # archived since it was cached
                try:
                    await thread.edit(**changes, archived=False)
                except discord.HTTPException as again:
                    log.warning("could not rename thread %s: %s", thread.id, again)
                    return False
                return True
            log.warning("could not rename thread %s: %s", thread.id, exc)
            return False
        return reopen

    async def _close(self, thread) -> None:
        try:
            await thread.edit(archived=True)
        except discord.HTTPException as exc:
            log.info("could not archive thread %s again: %s", thread.id, exc)
