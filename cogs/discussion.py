"""Each article's discussion on Discord: its thread, with the blog's comments mirrored into it.

The background side reads comments (bot/comments.py) and posts what is new, or edits what
changed, into the discussion threads: through the channel's "Gazette" webhook under the
commenter's name and avatar where the bot may manage webhooks, else as the bot's own embeds.
`/discuss` finds or opens the discussion of any article of the server's archive.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.app import Gazette
from bot.comments import RenderedComment, render_comment, shown_link
from bot.errors import UserError
from bot.limits import CLOCK_SKEW, MAX_REFUSALS
from bot.models import CommentPollReport, DiscussionInfo, MirrorItem, Post, Subscription
from bot.render import (
    inline_markdown,
    render_announcement,
    thread_name,
)
from bot.retry import retry_at
from bot.tree import permission_names

from .common.autocomplete import article_choices, typed_post_id
from .common.channels import (
    forum_tags,
    get_or_fetch_channel,
    missing_permissions,
)
from .common.embeds import GAZETTE_COLOUR, announcement_embed
from .common.loops import paced_round
from .common.sending import NO_MENTIONS, ItemRefused, send_plainly
from .common.visibility import can_view, viewable_channels

log = logging.getLogger(__name__)

WEBHOOK_NAME = "Gazette"
TOUCH_EVERY = 600.0  # at most one "activity" write per thread per 10 minutes
UNKNOWN_CHANNEL = 10003
UNKNOWN_WEBHOOK = 10015
THREAD_ALREADY_EXISTS = 160004
CLOSED_BY_MODERATORS = (
    "The discussion of that article was closed by this server's moderators (its thread was "
    "deleted), so I will not open it again."
)


class MirrorFailed(Exception):
    """Comments could not be shown now; retried later. The text is shown in `/feed list`."""


class ThreadGone(Exception):
    """The discussion's thread no longer exists."""


def comment_embed(rendered: RenderedComment) -> discord.Embed:
    embed = discord.Embed(description=rendered.as_description(), colour=GAZETTE_COLOUR)
    embed.set_author(name=rendered.author, url=rendered.author_url, icon_url=rendered.avatar_url)
    if rendered.timestamp:
        embed.timestamp = dt.datetime.fromtimestamp(rendered.timestamp, dt.UTC)
    return embed


def comment_text(rendered: RenderedComment) -> str:
    """The comment as the bot's bare text (author on top): sent when Discord refuses the
    webhook message or the embed."""
    head = f"**{inline_markdown(rendered.author, 80, default='Someone')}**\n"
    return head + rendered.as_content(limit=2000 - len(head))


# The link line every form of a mirrored comment ends with (see RenderedComment)
_CONTENT_LINK = re.compile(r"-# \[Comment on the blog\]\(<(.+)>\)(?: · <t:\d+:f>)?")
_EMBED_LINK = re.compile(r"\[Comment on the blog\]\((.+)\)")


def shows_comment(message: discord.Message, rendered: RenderedComment) -> bool:
    """Whether a message is this comment's mirror: the blog link on its last line is this
    comment's, compared whole (#comment-1 is not #comment-12); without a link shown (none, or
    too long to show), the whole text."""
    forms = [(message.content or "", _CONTENT_LINK)]
    forms += [(embed.description or "", _EMBED_LINK) for embed in message.embeds]
    link = shown_link(rendered.link)
    if link is None:
        expected = {rendered.as_content(), rendered.as_description(), comment_text(rendered)}
        return any(text in expected for text, _ in forms)
    for text, pattern in forms:
        match = pattern.fullmatch(text.rsplit("\n", 1)[-1])
        if match is not None and match.group(1) == link:
            return True
    return False


def _jump(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


class Discussion(commands.Cog):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.timing = bot.timing
        self.watcher = bot.comment_watcher
        self._webhooks: dict[int, discord.Webhook] = {}  # parent channel id -> its webhook
        self._webhook_locks: dict[int, asyncio.Lock] = {}
        self._discussion_locks: dict[int, asyncio.Lock] = {}
        self._opening: dict[tuple[int, int], asyncio.Lock] = {}
        self._touched: dict[int, float] = {}
        self._mirror_limit = asyncio.Semaphore(8)
        self._mirror_wanted = asyncio.Event()
        self._active = 0  # mirrors running (their locks must stay)
        self._tasks: set[asyncio.Task] = set()

    async def cog_load(self) -> None:
        self.comment_loop.start()
        self.mirror_loop.start()

    async def cog_unload(self) -> None:
        self.comment_loop.cancel()
        self.mirror_loop.cancel()
        self.watcher.cancel_checks()
        for task in self._tasks:
            task.cancel()

    # --- the background loops -------------------------------------------------------

    @tasks.loop(seconds=0)
    async def comment_loop(self) -> None:
        """Start reading the comments of the posts that are due (bot/comments.py); each read
        is handled by `_comments_read` when recorded, so a slow blog holds up nobody."""
        await paced_round(
            lambda: self.watcher.start_due(on_recorded=self._comments_read),
            None,
            self.timing.poll_tick,
            "comment poll cycle",
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
        if not self._active:  # nothing runs: forget the locks of earlier rounds
            self._discussion_locks.clear()
        if due:
            await asyncio.gather(*(self._mirror_guarded(d.id) for d in due))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fill(self, discussion_id: int, post_id: int) -> None:
        """A discussion was just opened: read the post's comments and show them."""
        try:
            await self.watcher.check_post(post_id)
        except Exception:
            log.exception("reading the comments of post %s failed", post_id)
        await self._mirror_guarded(discussion_id)

    async def _mirror_guarded(self, discussion_id: int) -> None:
        lock = self._discussion_locks.setdefault(discussion_id, asyncio.Lock())
        self._active += 1
        try:
            async with self._mirror_limit, lock:
                await self._mirror_one(discussion_id)
        finally:
            self._active -= 1

    async def _mirror_one(self, discussion_id: int) -> None:
        discussion = await self.store.get_discussion(discussion_id)
        if discussion is None or discussion.state != "open":
            return
        try:
            await self.mirror(discussion)
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

    # --- mirroring ------------------------------------------------------------------

    async def mirror(self, discussion: DiscussionInfo) -> int:
        """Post the discussion's new comments and edit the changed ones; returns how many."""
        items = await self.store.mirror_items(discussion.id)
        if not items:
            await self.store.mirror_done(discussion.id, discussion.mirror_due_at)
            return 0
        thread = await self._thread(discussion)
        if thread.locked:  # closed by a moderator: the comments wait until it is reopened
            raise MirrorFailed(f"the thread {thread.name!r} is locked")
        if thread.archived:
            await self._unarchive(thread)
        hook = await self._webhook(thread.parent)
        done = 0
        refused: str | None = None  # why the last refused comment waits for another try
        parents: dict[int, int] = {}  # comment id -> message id, for replies in this round
        for item in items:
            parent_message = item.parent_message_id or parents.get(item.comment.parent_id or 0)
            rendered = await self._render(item, discussion, thread, parent_message)
            try:
                if item.is_edit:
                    await self._edit(discussion, thread, hook, item, rendered)
                else:
                    message_id = await self._send(discussion, thread, hook, item, rendered)
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
            _jump(discussion.guild_id, thread.id, parent_message) if parent_message else None
        )
        kwargs = dict(
            parent_author=item.parent_author, parent_html=item.parent_html, parent_url=parent_url
        )
        if len(item.comment.content_html) > 4000:
            return await asyncio.to_thread(render_comment, item.comment, **kwargs)
        return render_comment(item.comment, **kwargs)

    async def _send(self, discussion, thread, hook, item: MirrorItem, rendered) -> int:
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
                self._webhooks.pop(thread.parent_id, None)
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

    async def _edit(self, discussion, thread, hook, item: MirrorItem, rendered) -> None:
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
                self._webhooks.pop(thread.parent_id, None)
        await self.store.finish_mirror(
            discussion.id,
            item.comment.id,
            message_id=None,
            content_hash=item.content_hash,
            via_webhook=item.via_webhook,
        )

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
        since = discord.utils.time_snowflake(
            dt.datetime.fromtimestamp(started - CLOCK_SKEW, dt.UTC)
        )
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
            thread, starter = await self._new_thread(
                channel, post, discussion.auto_archive_minutes, discussion.starter_message_id
            )
        except UserError as exc:
            raise MirrorFailed(str(exc)) from exc
        await self.store.set_discussion_thread(discussion.id, thread.id)
        return thread

    async def _webhook(self, parent) -> discord.Webhook | None:
        """The channel's Gazette webhook (made when missing), or None where not allowed."""
        if parent is None or not parent.permissions_for(parent.guild.me).manage_webhooks:
            return None
        hook = self._webhooks.get(parent.id)
        if hook is not None:
            return hook
        lock = self._webhook_locks.setdefault(parent.id, asyncio.Lock())
        async with lock:
            hook = self._webhooks.get(parent.id)
            if hook is not None:
                return hook
            try:
                hooks = await parent.webhooks()
                me = self.bot.user.id
                hook = next(
                    (
                        h
                        for h in hooks
                        if h.name == WEBHOOK_NAME and h.token and h.user and h.user.id == me
                    ),
                    None,
                )
                if hook is None:
                    hook = await parent.create_webhook(
                        name=WEBHOOK_NAME, reason="Gazette shows blog comments in threads"
                    )
            except discord.HTTPException as exc:
                log.info("no webhook in #%s (%s): comments as embeds", parent.name, exc)
                return None
            self._webhooks[parent.id] = hook
            return hook

    async def _channel(self, channel_id: int):
        try:
            return await get_or_fetch_channel(self.bot, channel_id)
        except discord.NotFound:
            return None
        except discord.HTTPException as exc:
            raise MirrorFailed(f"cannot see the channel: {exc.text}") from exc

    # --- opening discussions --------------------------------------------------------

    async def _new_thread(
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
            try:
                await message.delete()
            except discord.HTTPException:
                pass
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
        lock = self._opening.setdefault((post.id, sub.id), asyncio.Lock())
        async with lock:
            thread, created, discussion_id = await self._discussion_thread(post, sub)
        title = inline_markdown(post.title, 200) or "Untitled post"
        if created:
            text = f"Opened the discussion of **{title}**: {thread.jump_url}"
            self._spawn(self._fill(discussion_id, post.id))
        else:
            text = f"The discussion of **{title}** is here: {thread.jump_url}"
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _discussion_thread(
        self, post: Post, sub: Subscription
    ) -> tuple[discord.Thread, bool, int]:
        """(thread, whether it was created now, discussion id) for the post in the channel."""
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
        thread, starter = await self._new_thread(
            channel, post, sub.auto_archive_minutes, announcement
        )
        discussion = await self.store.open_discussion(
            post.id, sub.id, thread.id, starter_message_id=starter
        )
        log.info("opened discussion %s of post %s in %s", discussion.id, post.id, thread.id)
        return thread, True, discussion.id


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Discussion(bot))
