"""One delivery: a post announced in one channel, sent once even across a crash."""

from __future__ import annotations

import asyncio
import logging
import time

import discord

from bot.app import Gazette
from bot.limits import NONCE_WINDOW
from bot.models import Delivery
from bot.render.style import render_styled

from ..common.channels import get_or_fetch_channel, snowflake_before
from ..common.sending import send_plainly
from ..common.styles import announcement_message
from ._errors import DeliveryFailed, send_failure
from ._followups import FollowupLane, follow_up
from ._forum import forum_post
from ._mentions import mentioned_roles

log = logging.getLogger(__name__)


class Deliverer:
    """Sends deliveries, and finishes the follow-ups a crash left undone."""

    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store

    async def deliver(self, delivery: Delivery, lane: FollowupLane | None = None) -> None:
        """Send the announcement; its follow-ups (publishing, the thread) go to the channel
        worker's `lane`, to run beside the next send."""
        post = await self.store.get_post(delivery.post_id)
        if post is None:  # the post went away with its feed
            return
        channel = await self._channel(delivery.channel_id)
        # most subscriptions have no topic roles: no read for them on this hot path
        topic_roles = (
            await self.store.topic_role_map(delivery.subscription_id) if delivery.has_topics else {}
        )
        role_ids = mentioned_roles(
            getattr(channel, "guild", None), delivery.mention_role_id, topic_roles, post
        )
        shown = await asyncio.to_thread(
            render_styled, post, delivery.feed_title, delivery.style, delivery.template, role_ids
        )
        message = announcement_message(shown)
        try:
            if isinstance(channel, discord.ForumChannel):
                thread_id = await forum_post(self.bot, channel, delivery, post, message)
                # a forum post's starter message has the thread's id
                await self.store.mark_delivered(
                    delivery.id, thread_id, thread_id, style=shown.style
                )
                log.info("announced post %s in forum #%s", post.id, channel.name)
                return
            # whatever the style then (it may have changed since): a full or compact embed
            # shows the same title and link; a link message's text is the post's own
            texts = {message.plain}
            if message.embed is None and message.content:
                texts.add(message.content)
            sent = await self.sent_before(
                channel, delivery.started_at, texts, message.identity, f"post {delivery.post_id}"
            )
            # the same nonce for both: Discord keeps only one of them (enforce_nonce)
            sent = sent or await send_plainly(
                lambda: channel.send(
                    message.content,
                    embed=message.embed,
                    allowed_mentions=message.mentions,
                    nonce=delivery.nonce,
                ),
                lambda: channel.send(
                    message.plain, allowed_mentions=message.mentions, nonce=delivery.nonce
                ),
                f"post {post.id}",
            )
        except discord.HTTPException as exc:
            raise send_failure(exc, channel) from exc
        followups = channel.is_news() or delivery.threads
        await self.store.mark_delivered(
            delivery.id, sent.id, followups_owed=followups, style=shown.style
        )
        log.info("announced post %s in #%s", post.id, channel.name)
        if followups:
            await follow_up(self.store, delivery, channel, sent, post.title, lane)

    async def finish_followups(
        self, skip_channels: frozenset[int] | set[int] = frozenset()
    ) -> None:
        """What a crash left undone after sending: publishing, threads (not in
        `skip_channels`, whose worker may be doing them right now)."""
        for delivery in await self.store.owed_followups():
            if delivery.channel_id in skip_channels:
                continue
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
            await follow_up(self.store, delivery, channel, message, post.title)

    async def _channel(self, channel_id: int):
        try:
            return await get_or_fetch_channel(self.bot, channel_id)
        except discord.NotFound as exc:
            raise DeliveryFailed("the channel no longer exists") from exc
        except discord.Forbidden as exc:
            raise DeliveryFailed("I cannot see the channel (missing View Channel)") from exc
        except discord.HTTPException as exc:
            raise DeliveryFailed(f"Discord answered {exc.status}: {exc.text}") from exc

    async def sent_before(
        self,
        channel,
        started_at: float | None,
        texts: set[str],
        identity: tuple[str | None, str | None] | None,
        what: str,
    ) -> discord.Message | None:
        """The message an earlier, unconfirmed send begun at `started_at` left in the channel
        (`what`: a delivery's post, a digest).

        Discord's nonce makes a resend return the first message only for a few minutes; past
        that the channel is read back from shortly before the send began and the bot's own
        messages compared with what was sent exactly: an embed's (title, link) `identity`, or
        one of the whole `texts` (a link message's text; the plain text sent when Discord
        refuses an embed), leaving out those another delivery holds.
        """
        if started_at is None or time.time() - started_at < NONCE_WINDOW:
            return None
        after = snowflake_before(started_at)
        me = self.bot.user.id
        candidates = []
        try:
            async for earlier in channel.history(
                limit=None, after=discord.Object(after), oldest_first=True
            ):
                if earlier.author.id != me:
                    continue
                embed = earlier.embeds[0] if earlier.embeds else None
                if earlier.content in texts or (
                    embed is not None and (embed.title, embed.url) == identity
                ):
                    candidates.append(earlier)
        except discord.Forbidden as exc:
            # cannot read the channel back (Read Message History): the nonce is all there is
            log.warning("cannot look for an earlier send in #%s: %s", channel.name, exc)
            return None
        held = await self.store.recorded_messages([m.id for m in candidates])
        found = next((m for m in candidates if m.id not in held), None)
        if found is not None:
            log.info("%s was already in #%s (%s)", what, channel.name, found.id)
        return found
