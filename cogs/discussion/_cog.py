"""The discussion cog: the loops that read and show comments, its listeners, `/discuss`."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.app import Gazette
from bot.errors import UserError
from bot.models import CommentPollReport, DiscussionInfo, Post
from bot.render.markdown import inline_markdown
from bot.retry import retry_at
from bot.scheduling import LockTable, create_task

from ..common.autocomplete import article_choices, typed_post_id
from ..common.loops import paced_round
from ..common.sending import NO_MENTIONS
from ..common.visibility import can_view, viewable_channels
from ._errors import MirrorFailed, ThreadGone
from ._mirror import Mirror
from ._threads import Threads
from ._webhooks import Webhooks

log = logging.getLogger(__name__)

TOUCH_EVERY = 600.0  # at most one "activity" write per thread per 10 minutes


class Discussion(commands.Cog):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.timing = bot.timing
        self.watcher = bot.comment_watcher
        self.threads = Threads(bot)
        self.mirror = Mirror(bot, Webhooks(bot), self.threads)
        self._discussion_locks = LockTable()  # one mirror of a discussion at a time
        self._touched: dict[int, float] = {}
        self._mirror_limit = asyncio.Semaphore(8)
        self._mirror_wanted = asyncio.Event()
        self._reads_due = asyncio.Event()  # a post's comments fall due before the next tick
        self._reads_timer: asyncio.TimerHandle | None = None
        self._fills: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()

    async def cog_load(self) -> None:
        self.comment_loop.start()
        self.mirror_loop.start()

    async def cog_unload(self) -> None:
        self.comment_loop.cancel()
        self.mirror_loop.cancel()
        self.watcher.cancel_checks()
        if self._reads_timer is not None:
            self._reads_timer.cancel()
        for task in self._fills:
            task.cancel()

    # --- the background loops -------------------------------------------------------

    @tasks.loop(seconds=0)
    async def comment_loop(self) -> None:
        """Start reading the comments of the posts that are due (bot/comments.py); each read
        is handled by `_comments_read` when recorded, so a slow blog holds up nobody. A post
        due before the next tick wakes the loop on time."""
        await paced_round(
            self._start_reads, self._reads_due, self.timing.poll_tick, "comment poll cycle"
        )

    async def _start_reads(self) -> None:
        await self.watcher.start_due(on_recorded=self._comments_read)
        if self._reads_timer is not None:
            self._reads_timer.cancel()
            self._reads_timer = None
        due = await self.watcher.next_due_at()
        if due is not None and due - time.time() < self.timing.poll_tick:
            self._reads_timer = asyncio.get_running_loop().call_later(
                max(self.timing.comment_wake_gap, due - time.time()), self._reads_due.set
            )

    async def _comments_read(self, report: CommentPollReport) -> None:
        if report.changed_posts:
            self._mirror_wanted.set()  # shown now, not at the end of a round

    @tasks.loop(seconds=0)
    async def mirror_loop(self) -> None:
        """Show what was read; paced by the outbox tick, woken when comments were found."""
        await paced_round(
            self.mirror_due, self._mirror_wanted, self.timing.delivery_tick, "mirroring comments"
        )

    @comment_loop.before_loop
    @mirror_loop.before_loop
    async def _before_loop(self) -> None:
        await self.bot.wait_until_ready()

    async def mirror_due(self) -> None:
        now = time.time()
        due = await self.store.due_mirrors(now, self.watcher.live_since(now), limit=100)
        if due:
            await asyncio.gather(*(self._mirror_guarded(d.id) for d in due))

    async def _fill(self, discussion_id: int, post_id: int) -> None:
        """A discussion was just opened: read the post's comments and show them."""
        try:
            await self.watcher.check_post(post_id)
        except Exception:
            log.exception("reading the comments of post %s failed", post_id)
        await self._mirror_guarded(discussion_id)

    async def _mirror_guarded(self, discussion_id: int) -> None:
        async with self._mirror_limit, self._discussion_locks(discussion_id):
            await self._mirror_one(discussion_id)

    async def _mirror_one(self, discussion_id: int) -> None:
        discussion = await self.store.get_discussion(discussion_id)
        if discussion is None or discussion.state != "open":
            return
        try:
            await self.mirror.mirror(discussion)
        except ThreadGone:
            log.info("discussion %s: its thread is gone", discussion.id)
            await self.store.mark_discussion_deleted(discussion.id)
        except MirrorFailed as exc:
            await self._postpone(discussion, str(exc))
        except Exception as exc:
            log.exception("mirroring discussion %s failed unexpectedly", discussion.id)
            await self._postpone(discussion, f"unexpected error: {type(exc).__name__}")

    async def _postpone(self, discussion: DiscussionInfo, error: str) -> None:
        # the announcer's retry timing: 30 s doubling up to an hour (tests shorten it)
        timing = self.timing
        again = retry_at(
            timing.delivery_backoff, discussion.mirror_failures, timing.delivery_backoff_cap
        )
        log.info("discussion %s postponed: %s", discussion.id, error)
        await self.store.mirror_failed(discussion.id, error, retry_at=again)

    # --- listeners ------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        if await self.store.mark_thread_deleted(payload.thread_id):
            log.info("discussion thread %s deleted: not recreated by comments", payload.thread_id)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Talk in a discussion's thread keeps it live (and its comments read)."""
        if not isinstance(message.channel, discord.Thread) or message.webhook_id is not None:
            return
        if self.bot.user is not None and message.author.id == self.bot.user.id:
            return
        now = time.time()
        if now - self._touched.get(message.channel.id, 0.0) < TOUCH_EVERY:
            return
        if len(self._touched) > 10_000:
            self._touched = {k: v for k, v in self._touched.items() if now - v < TOUCH_EVERY}
        self._touched[message.channel.id] = now
        await self.store.touch_thread(message.channel.id, now)

    # --- /discuss -------------------------------------------------------------------

    async def article_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(self.store, interaction, current)

    async def _article(self, interaction: discord.Interaction, value: str) -> Post:
        """The article picked (or typed), among those the member may read."""
        guild_id, channels = interaction.guild_id, viewable_channels(interaction)
        value = value.strip()
        post = None
        if (post_id := typed_post_id(value)) is not None:
            post = await self.store.get_post_for_guild(guild_id, post_id, channels=channels)
        if post is None and value:
            found = await self.store.titles_like(guild_id, value, 1, channels=channels)
            if found:
                post = await self.store.get_post_for_guild(guild_id, found[0][0], channels=channels)
        if post is None:
            raise UserError("No such article in this server's feeds: pick one from the list.")
        return post

    @app_commands.command(name="discuss", description="Find or open the discussion of an article")
    @app_commands.describe(article="An article from the feeds this server follows")
    @app_commands.autocomplete(article=article_autocomplete)
    @app_commands.guild_only()
    @app_commands.checks.cooldown(3, 30.0, key=lambda i: (i.guild_id, i.user.id))
    async def discuss(
        self, interaction: discord.Interaction, article: app_commands.Range[str, 1, 200]
    ) -> None:
        post = await self._article(interaction, article)
        subs = [
            s
            for s in await self.store.guild_subscriptions(interaction.guild_id)
            if s.feed_id == post.feed_id and can_view(interaction, s.channel_id)
        ]
        if not subs:
            raise UserError("That article's feed is no longer followed here.")
        here = {interaction.channel_id, getattr(interaction.channel, "parent_id", None)}
        sub = next((s for s in subs if s.channel_id in here), subs[0])
        await interaction.response.defer(ephemeral=True, thinking=True)
        thread, created, discussion_id = await self.threads.discussion_thread(post, sub)
        title = inline_markdown(post.title, 200) or "Untitled post"
        if created:
            text = f"Opened the discussion of **{title}**: {thread.jump_url}"
            fill = self._fill(discussion_id, post.id)
            self._fills.add(create_task(fill, name=f"fill discussion {discussion_id}"))
        else:
            text = f"The discussion of **{title}** is here: {thread.jump_url}"
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
