"""The background side: poll due feeds, then empty the outbox into Discord."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict

import discord
from discord.ext import commands, tasks

from bot.app import Gazette
from bot.models import Delivery
from bot.poller import FeedEvent, PollReport
from bot.render import (
    cut_plain,
    escape_markdown,
    neutralize_mentions,
    render_announcement,
    thread_name,
)

from .embeds import announcement_embed
from .errors import paced_round

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A send that should be retried later; the message is shown in `/feed list`."""


class Announcer(commands.Cog):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.timing = bot.timing
        self._outbox_dirty = asyncio.Event()
        self._index_wanted = False

    async def cog_load(self) -> None:
        self.poll_loop.change_interval(seconds=self.timing.poll_tick)
        self.poll_loop.start()
        self.delivery_loop.start()

    async def cog_unload(self) -> None:
        self.poll_loop.cancel()
        self.delivery_loop.cancel()
        self.bot.poller.cancel_checks()

    # --- polling --------------------------------------------------------------------

    @tasks.loop(seconds=15)
    async def poll_loop(self) -> None:
        # an exception escaping a tasks.loop ends it for good: nothing may escape
        try:
            # starts the due feeds and returns: each check is handled by `_checked` when it
            # is recorded, so a slow feed holds up nobody (it is not due while in flight)
            await self.bot.poller.start_due(on_recorded=self._checked)
            if self._index_wanted:
                # searchable now rather than at the next search; after the announcements
                self._index_wanted = False
                await self.store.index_pending()
        except Exception:
            log.exception("poll cycle failed")

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
        plain_title = neutralize_mentions(event.feed.title or event.feed.url)
        title = escape_markdown(plain_title)
        if event.kind == "failing":
            text = (
                f"⚠️ **{title}** could not be read several times in a row ({event.error}). "
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
                        name=cut_plain(f"{name}: {title}", 100), content=text
                    )
                else:
                    await channel.send(text)
            except discord.HTTPException as exc:
                log.warning("could not tell #%s about %s: %s", sub.channel_id, event.feed.url, exc)

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
        due = await self.store.due_deliveries(time.time(), limit=100)
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
            except DeliveryFailed as exc:
                # keep the channel's order: what follows waits for the same retry
                for waiting in deliveries[index:]:
                    await self._postpone(waiting, str(exc))
                break
            except Exception as exc:
                log.exception("delivering post %s failed unexpectedly", delivery.post_id)
                await self._postpone(delivery, f"unexpected error: {type(exc).__name__}")
        return sent

    async def _postpone(self, delivery: Delivery, error: str) -> None:
        delay = min(
            self.timing.delivery_backoff * 2**delivery.attempts, self.timing.delivery_backoff_cap
        )
        log.info("post %s to #%s postponed: %s", delivery.post_id, delivery.channel_id, error)
        await self.store.mark_delivery_failed(
            delivery.id, error, next_attempt_at=time.time() + delay * random.uniform(1.0, 1.2)
        )

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
        try:
            if isinstance(channel, discord.ForumChannel):
                thread_id, message_id = await self._forum_post(
                    channel, delivery, post.title, content, embed, mentions, post.categories
                )
                await self.store.mark_delivered(delivery.id, message_id, thread_id)
                return
            try:
                message = await channel.send(
                    content, embed=embed, allowed_mentions=mentions, nonce=delivery.nonce
                )
            except discord.HTTPException as exc:
                if exc.status != 400:
                    raise
                # Discord refused something in the embed; retrying would never help, so
                # the post goes out in its plainest form rather than not at all
                log.warning("post %s refused (%s); sending it plainly", post.id, exc.text)
                plain = discord.Embed(
                    title=embed.title, description=embed.description, colour=embed.colour
                )
                message = await channel.send(
                    content, embed=plain, allowed_mentions=mentions, nonce=delivery.nonce
                )
        except discord.Forbidden as exc:
            raise DeliveryFailed(f"Missing permissions in #{channel.name}: {exc.text}") from exc
        except discord.NotFound as exc:
            raise DeliveryFailed("the channel no longer exists") from exc
        except discord.HTTPException as exc:
            raise DeliveryFailed(f"Discord answered {exc.status}: {exc.text}") from exc
        await self.store.mark_delivered(delivery.id, message.id)
        log.info("announced post %s in #%s", post.id, channel.name)
        if channel.is_news():
            try:
                await message.publish()
            except discord.HTTPException as exc:
                log.warning("could not publish message %s: %s", message.id, exc)
        if delivery.threads:
            await self._open_thread(delivery, message, post.title)

    async def _channel(self, channel_id: int):
        channel = self.bot.get_channel(channel_id)
        if channel is not None:
            return channel
        try:
            return await self.bot.fetch_channel(channel_id)
        except discord.NotFound as exc:
            raise DeliveryFailed("the channel no longer exists") from exc
        except discord.Forbidden as exc:
            raise DeliveryFailed("I cannot see the channel (missing View Channel)") from exc
        except discord.HTTPException as exc:
            raise DeliveryFailed(f"Discord answered {exc.status}: {exc.text}") from exc

    async def _open_thread(self, delivery: Delivery, message: discord.Message, title: str) -> None:
        try:
            thread = await message.create_thread(
                name=thread_name(title), auto_archive_duration=delivery.auto_archive_minutes
            )
        except discord.HTTPException as exc:
            # the announcement stands; the discussion can still be opened later
            log.warning("could not open a thread on message %s: %s", message.id, exc)
            return
        await self.store.set_delivery_thread(delivery.id, thread.id)

    async def _forum_post(self, forum, delivery, title, content, embed, mentions, categories):
        wanted = {name.casefold() for name in categories}
        tags = [tag for tag in forum.available_tags if tag.name.casefold() in wanted][:5]
        created = await forum.create_thread(
            name=thread_name(title),
            content=content,
            embed=embed,
            allowed_mentions=mentions,
            applied_tags=tags,
            auto_archive_duration=delivery.auto_archive_minutes,
        )
        return created.thread.id, created.message.id


async def setup(bot: Gazette) -> None:
    await bot.add_cog(Announcer(bot))
