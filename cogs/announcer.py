"""The background side: poll due feeds, then empty the outbox into Discord."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict

import discord
from discord.ext import commands, tasks

from bot.app import Gazette
from bot.limits import CLOCK_SKEW, MAX_REFUSALS, NONCE_WINDOW
from bot.models import Delivery, FeedEvent, PollReport
from bot.render import inline_markdown, render_announcement, thread_name
from bot.retry import retry_at

from .common.channels import forum_tags, get_or_fetch_channel
from .common.embeds import announcement_embed, announcement_text
from .common.loops import paced_round
from .common.sending import ItemRefused, send_plainly

log = logging.getLogger(__name__)

# Discord's error codes that say a follow-up was already done
ALREADY_CROSSPOSTED = 40033
THREAD_ALREADY_CREATED = 160004


class DeliveryFailed(Exception):
    """A send that should be retried later; the message is shown in `/feed list`.

    `settled`: Discord answered the send with a refusal (4xx), so it surely created nothing
    and the next try need not look for it.
    """

    def __init__(self, message: str, *, settled: bool = False) -> None:
        super().__init__(message)
        self.settled = settled


class Announcer(commands.Cog):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.timing = bot.timing
        self._outbox_dirty = asyncio.Event()
        self._index_wanted = False

    async def cog_load(self) -> None:
        self.poll_loop.start()
        self.delivery_loop.start()

    async def cog_unload(self) -> None:
        self.poll_loop.cancel()
        self.delivery_loop.cancel()
        self.bot.poller.cancel_checks()

    # --- polling --------------------------------------------------------------------

    @tasks.loop(seconds=0)  # paced by paced_round: every poll tick
    async def poll_loop(self) -> None:
        await paced_round(self.poll_due, None, self.timing.poll_tick, "poll cycle")

    async def poll_due(self) -> None:
        # starts the due feeds and returns: each check is handled by `_checked` when it is
        # recorded, so a slow feed holds up nobody (it is not due while in flight)
        await self.bot.poller.start_due(on_recorded=self._checked)
        if self._index_wanted:
            # searchable now rather than at the next search; after the announcements
            self._index_wanted = False
            await self.store.index_pending()

    async def _checked(self, report: PollReport) -> None:
        """One feed's check was recorded: deliver its new posts now, tell of its state."""
        if report.new_posts:
            self._outbox_dirty.set()
            self._index_wanted = True
        for event in report.events:
            await self.tell_followers(event)

    @poll_loop.before_loop
    async def _before_poll(self) -> None:
        await self.bot.wait_until_ready()

    async def tell_followers(self, event: FeedEvent) -> None:
        """One notice per channel when a feed starts failing, one when it recovers."""
        # the title and the error come from the blog: escaped, on one line, cut
        title = inline_markdown(event.feed.title or event.feed.url, 200)
        if event.kind == "failing":
            text = (
                f"⚠️ **{title}** could not be read several times in a row "
                f"({inline_markdown(event.error, 1000)}). "
                "Gazette keeps trying, less often, and will say here when it works again."
            )
        else:
            text = f"✅ **{title}** can be read again; new posts will be announced as usual."
        for sub in await self.store.feed_subscriptions(event.feed.id):
            channel = self.bot.get_channel(sub.channel_id)
            if channel is None:
                continue
            try:
                if isinstance(channel, discord.ForumChannel):
                    # a forum takes no plain messages: the notice is a post of its own
                    name = "Feed problem" if event.kind == "failing" else "Feed working again"
                    await channel.create_thread(
                        name=thread_name(f"{name}: {event.feed.title or event.feed.url}"),
                        content=text,
                    )
                else:
                    await channel.send(text)
            except discord.HTTPException as exc:
                log.warning(
                    "could not tell #%s about feed %s: %s", sub.channel_id, event.feed.id, exc
                )

    # --- delivering -----------------------------------------------------------------

    @tasks.loop(seconds=0)  # paced by the wait below: woken at once when posts are owed
    async def delivery_loop(self) -> None:
        await paced_round(
            self.deliver_due, self._outbox_dirty, self.timing.delivery_tick, "delivery round"
        )

    @delivery_loop.before_loop
    async def _before_delivery(self) -> None:
        await self.bot.wait_until_ready()

    async def deliver_due(self) -> int:
        """Send what is owed; channels run side by side so one failing channel holds up none."""
        await self.finish_followups()
        due = await self.store.due_deliveries(time.time(), limit=100)
        # the intent, before any request: a delivery begun earlier may already be on Discord
        await self.store.begin_deliveries([d.id for d in due if d.started_at is None])
        by_channel: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_channel[delivery.channel_id].append(delivery)
        sent = await asyncio.gather(
            *(self._deliver_channel(items) for items in by_channel.values())
        )
        return sum(sent)

    async def _deliver_channel(self, deliveries: list[Delivery]) -> int:
        sent = 0
        for index, delivery in enumerate(deliveries):
            try:
                await self.deliver(delivery)
                sent += 1
            except ItemRefused as exc:
                # the post's own fault: it alone waits (then is skipped), the rest goes on
                await self._refused(delivery, str(exc))
            except DeliveryFailed as exc:
                # the channel's or Discord's fault: keep the channel's order, what follows
                # waits for the same retry (not tried, so surely not sent this time)
                await self._postpone(delivery, str(exc), settled=exc.settled)
                for waiting in deliveries[index + 1 :]:
                    await self._postpone(waiting, str(exc), settled=waiting.started_at is None)
                break
            except Exception as exc:
                log.exception("delivering post %s failed unexpectedly", delivery.post_id)
                await self._postpone(delivery, f"unexpected error: {type(exc).__name__}")
        return sent

    def _retry_at(self, delivery: Delivery) -> float:
        timing = self.timing
        return retry_at(timing.delivery_backoff, delivery.attempts, timing.delivery_backoff_cap)

    async def _postpone(self, delivery: Delivery, error: str, *, settled: bool = False) -> None:
        log.info("post %s to #%s postponed: %s", delivery.post_id, delivery.channel_id, error)
        await self.store.mark_delivery_failed(
            delivery.id, error, next_attempt_at=self._retry_at(delivery), settled=settled
        )

    async def _refused(self, delivery: Delivery, error: str) -> None:
        skipped = await self.store.refuse_delivery(
            delivery.id, error, next_attempt_at=self._retry_at(delivery), give_up_after=MAX_REFUSALS
        )
        if skipped:
            log.warning(
                "post %s skipped in #%s after %d refusals: %s",
                delivery.post_id,
                delivery.channel_id,
                MAX_REFUSALS,
                error,
            )
        else:
            log.info("post %s refused in #%s: %s", delivery.post_id, delivery.channel_id, error)

    async def deliver(self, delivery: Delivery) -> None:
        post = await self.store.get_post(delivery.post_id)
        if post is None:  # the post went away with its feed
            return
        channel = await self._channel(delivery.channel_id)
        announcement = await asyncio.to_thread(render_announcement, post, delivery.feed_title)
        embed = announcement_embed(announcement)
        content = None
        mentions = discord.AllowedMentions.none()
        if delivery.mention_role_id:
            content = f"<@&{delivery.mention_role_id}>"
            mentions = discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(delivery.mention_role_id)]
            )
        plain = announcement_text(announcement, content)
        try:
            if isinstance(channel, discord.ForumChannel):
                thread_id = await self._forum_post(
                    channel, delivery, post, content, embed, plain, mentions
                )
                # a forum post's starter message has the thread's id
                await self.store.mark_delivered(delivery.id, thread_id, thread_id)
                log.info("announced post %s in forum #%s", post.id, channel.name)
                return
            message = await self._sent_before(channel, delivery, embed, plain)
            # the same nonce for both: Discord keeps only one of them (enforce_nonce)
            message = message or await send_plainly(
                lambda: channel.send(
                    content, embed=embed, allowed_mentions=mentions, nonce=delivery.nonce
                ),
                lambda: channel.send(plain, allowed_mentions=mentions, nonce=delivery.nonce),
                f"post {post.id}",
            )
        except discord.Forbidden as exc:
            raise DeliveryFailed(
                f"Missing permissions in #{channel.name}: {exc.text}", settled=True
            ) from exc
        except discord.NotFound as exc:
            raise DeliveryFailed("the channel no longer exists", settled=True) from exc
        except discord.HTTPException as exc:
            raise DeliveryFailed(
                f"Discord answered {exc.status}: {exc.text}", settled=400 <= exc.status < 500
            ) from exc
        followups = channel.is_news() or delivery.threads
        await self.store.mark_delivered(delivery.id, message.id, followups_owed=followups)
        log.info("announced post %s in #%s", post.id, channel.name)
        if followups:
            await self._follow_up(delivery, channel, message, post.title)

    async def _follow_up(self, delivery: Delivery, channel, message, title: str) -> None:
        """Publish the announcement and open its thread, each once: both are recorded as owed
        with the send, so a crash in between is finished by the next round (Discord's
        "already crossposted" / "thread already created" then say it was done)."""
        try:
            if channel.is_news():
                try:
                    await message.publish()
                except discord.HTTPException as exc:
                    if exc.code != ALREADY_CROSSPOSTED:
                        log.warning("could not publish message %s: %s", message.id, exc)
            if delivery.threads:
                await self._open_thread(delivery, message, title)
        finally:
            await self.store.followups_done(delivery.id)

    async def finish_followups(self) -> None:
        """What a crash left undone after sending: publishing, threads."""
        for delivery in await self.store.owed_followups():
            post = await self.store.get_post(delivery.post_id)
            try:
                channel = await self._channel(delivery.channel_id)
            except DeliveryFailed as exc:
                log.info("follow-ups of post %s dropped: %s", delivery.post_id, exc)
                await self.store.followups_done(delivery.id)
                continue
            if post is None or isinstance(channel, discord.ForumChannel):
                await self.store.followups_done(delivery.id)
                continue
            message = channel.get_partial_message(delivery.message_id)
            await self._follow_up(delivery, channel, message, post.title)

    async def _channel(self, channel_id: int):
        try:
            return await get_or_fetch_channel(self.bot, channel_id)
        except discord.NotFound as exc:
            raise DeliveryFailed("the channel no longer exists") from exc
        except discord.Forbidden as exc:
            raise DeliveryFailed("I cannot see the channel (missing View Channel)") from exc
        except discord.HTTPException as exc:
            raise DeliveryFailed(f"Discord answered {exc.status}: {exc.text}") from exc

    async def _open_thread(self, delivery: Delivery, message, title: str) -> None:
        try:
            thread = await message.create_thread(
                name=thread_name(title), auto_archive_duration=delivery.auto_archive_minutes
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_ALREADY_CREATED:  # before a crash: its id is the message's
                await self.store.set_delivery_thread(delivery.id, message.id)
                return
            # the announcement stands; the discussion can still be opened later
            log.warning("could not open a thread on message %s: %s", message.id, exc)
            return
        await self.store.set_delivery_thread(delivery.id, thread.id)

    async def _forum_post(self, forum, delivery, post, content, embed, plain, mentions) -> int:
        """The delivery's forum post, created once: its thread id.

        A forum post takes no nonce: a delivery begun before (its intent is recorded before
        any request) may already be on Discord, the bot having died before hearing back, and
        is looked for first.
        """
        name = thread_name(post.title)
        if delivery.started_at is not None:
            found = await self._find_forum_post(forum, name, delivery.started_at)
            if found is not None:
                log.info("post %s was already in forum #%s (thread %s)", post.id, forum.name, found)
                return found
        tags = forum_tags(forum, post.categories)
        created = await send_plainly(
            lambda: forum.create_thread(
                name=name,
                content=content,
                embed=embed,
                allowed_mentions=mentions,
                applied_tags=tags,
                auto_archive_duration=delivery.auto_archive_minutes,
            ),
            lambda: forum.create_thread(
                name=name,
                content=plain,
                allowed_mentions=mentions,
                auto_archive_duration=delivery.auto_archive_minutes,
            ),
            f"post {post.id}",
        )
        return created.thread.id

    async def _sent_before(
        self, channel, delivery: Delivery, embed: discord.Embed, plain: str
    ) -> discord.Message | None:
        """The announcement an earlier, unconfirmed send of this delivery left in the channel.

        Discord's nonce makes a resend return the first message only for a few minutes; past
        that the channel is read back from shortly before the send began and the bot's own
        messages compared with this post exactly (the embed's title and link, or the whole
        plain text), leaving out those another delivery holds.
        """
        if delivery.started_at is None or time.time() - delivery.started_at < NONCE_WINDOW:
            return None
        since = delivery.started_at - CLOCK_SKEW
        after = discord.utils.time_snowflake(dt.datetime.fromtimestamp(since, dt.UTC))
        me = self.bot.user.id
        candidates = []
        try:
            async for message in channel.history(
                limit=None, after=discord.Object(after), oldest_first=True
            ):
                if message.author.id != me:
                    continue
                shown = message.embeds[0] if message.embeds else None
                if message.content == plain or (
                    shown is not None and (shown.title, shown.url) == (embed.title, embed.url)
                ):
                    candidates.append(message)
        except discord.Forbidden as exc:
            # cannot read the channel back (Read Message History): the nonce is all there is
            log.warning("cannot look for an earlier send in #%s: %s", channel.name, exc)
            return None
        held = await self.store.recorded_messages([m.id for m in candidates])
        found = next((m for m in candidates if m.id not in held), None)
        if found is not None:
            log.info("post %s was already in #%s (%s)", delivery.post_id, channel.name, found.id)
        return found

    async def _find_forum_post(self, forum, name: str, started_at: float) -> int | None:
        """The forum post this bot made for a delivery begun at `started_at`, if Discord has it:
        its own post in this forum, under this exact name, created since, that no delivery
        or discussion holds (a channel's deliveries go one at a time, so no other one can
        be it). An unanswerable question is DeliveryFailed: retried, never posted twice."""
        since = started_at - CLOCK_SKEW
        floor = discord.utils.time_snowflake(dt.datetime.fromtimestamp(since, dt.UTC))
        me = self.bot.user.id
        try:
            found = [t for t in await forum.guild.active_threads() if t.parent_id == forum.id]
            async for thread in forum.archived_threads(limit=None):
                # newest archived first: one archived before `since` ends the search
                if thread.archive_timestamp.timestamp() < since:
                    break
                found.append(thread)
        except discord.HTTPException as exc:
            raise DeliveryFailed(
                f"cannot tell whether the forum post was made ({exc.status}: {exc.text})"
            ) from exc
        mine = [t.id for t in found if t.owner_id == me and t.name == name and t.id >= floor]
        held = await self.store.recorded_threads(mine)
        return min((tid for tid in mine if tid not in held), default=None)


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Announcer(bot))
