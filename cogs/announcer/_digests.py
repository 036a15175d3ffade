"""Digests: at each subscription's hour its period's posts are claimed into one digest
(bot/store/digests.py), then sent as one message, once even across a crash.

The loop sleeps until the next digest is due (or a failed one is retried), and is woken at
once when a schedule or a server's time zone changes (`store.digests_changed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time

import discord
from discord.ext import commands, tasks

from bot.app import Gazette
from bot.limits import MAX_REFUSALS
from bot.models import Digest
from bot.render.digest import MAX_LINES, RenderedDigest, digest_thread_name, render_digest
from bot.render.markdown import FOOTER_LIMIT, cut_plain
from bot.retry import retry_at

from ..common.embeds import GAZETTE_COLOUR, fit_embed
from ..common.loops import paced_round
from ..common.sending import NO_MENTIONS, ItemRefused, send_plainly
from ._delivery import Deliverer
from ._errors import DeliveryFailed, send_failure
from ._followups import publish_and_open_thread
from ._forum import _find_forum_post

log = logging.getLogger(__name__)

#: The longest the loop sleeps without looking again (a clock set forward, a suspended host)
MAX_SLEEP = 3600.0


def digest_embed(rendered: RenderedDigest, period_end: float) -> discord.Embed:
    embed = discord.Embed(
        title=rendered.title, description=rendered.description, colour=GAZETTE_COLOUR
    )
    embed.set_footer(text=cut_plain(rendered.footer, FOOTER_LIMIT))
    embed.timestamp = dt.datetime.fromtimestamp(period_end, dt.UTC)
    return fit_embed(embed)


class Digests(commands.Cog):
    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self.store = bot.store
        self.deliverer = Deliverer(bot)  # its channel lookup and its search for a cut send

    async def cog_load(self) -> None:
        self.digest_loop.start()

    async def cog_unload(self) -> None:
        self.digest_loop.cancel()

    @tasks.loop(seconds=0)  # paced by `wait`: until the next digest, or woken by a change
    async def digest_loop(self) -> None:
        await paced_round(self.digest_round, None, 0.0, "digest round")
        await self.wait()

    @digest_loop.before_loop
    async def _before_digests(self) -> None:
        await self.bot.wait_until_ready()

    async def wait(self) -> None:
        """Until the next digest time (by the store's clock), the next retry, or a change."""
        changed = self.store.digests_changed
        try:
            due, retry = await self.store.next_digest_times()
        except Exception as exc:  # the database is busy or failing: look again in a while
            log.warning("cannot tell when the next digest is due: %s", exc)
            due = retry = None
        delays = [MAX_SLEEP]
        if due is not None:
            delays.append(due - self.store.clock())
        if retry is not None:
            delays.append(retry - time.time())
        # a tick at least: a round that failed leaves its digest due, and must not spin
        timeout = max(self.bot.timing.delivery_tick, min(delays))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=timeout)
        changed.clear()

    async def digest_round(self) -> None:
        """Finish what a crash left undone, claim the due periods, send what is owed."""
        await self.finish_followups()
        made = await self.store.claim_due_digests()
        if made:
            log.info("%d digest(s) due", made)
        for digest in await self.store.due_digests(time.time()):
            try:
                await self.send(digest)
            except ItemRefused as exc:
                await self._refused(digest, str(exc))
            except DeliveryFailed as exc:
                await self._postpone(digest, str(exc), settled=exc.settled)
            except Exception as exc:
                log.exception("sending digest %s failed unexpectedly", digest.id)
                await self._postpone(digest, f"unexpected error: {type(exc).__name__}")

    async def send(self, digest: Digest) -> None:
        posts, total = await self.store.digest_posts(digest.id, MAX_LINES)
        if not posts:  # its posts went away (the feed was removed meanwhile)
            await self.store.refuse_digest(
                digest.id, "its posts were removed", next_attempt_at=0, give_up_after=0
            )
            return
        channel = await self.deliverer._channel(digest.channel_id)
        rendered = await asyncio.to_thread(
            render_digest,
            posts,
            digest.feed_title,
            digest.feed_url,
            digest.period_end,
            digest.zone,
            total,
        )
        embed = digest_embed(rendered, digest.period_end)
        await self.store.begin_digest(digest.id)  # before any request: it may reach Discord
        what = f"digest {digest.id}"
        try:
            if isinstance(channel, discord.ForumChannel):
                thread_id = await self._forum_post(channel, digest, rendered, embed)
                await self.store.mark_digest_sent(digest.id, thread_id, thread_id)
                log.info("sent %s (%d posts) in forum #%s", what, total, channel.name)
                return
            message = await self.deliverer.sent_before(
                channel, digest.started_at, {rendered.plain}, (embed.title, embed.url), what
            )
            message = message or await send_plainly(
                lambda: channel.send(embed=embed, allowed_mentions=NO_MENTIONS, nonce=digest.nonce),
                lambda: channel.send(
                    rendered.plain, allowed_mentions=NO_MENTIONS, nonce=digest.nonce
                ),
                what,
            )
        except discord.HTTPException as exc:
            raise send_failure(exc, channel) from exc
        followups = channel.is_news() or digest.threads
        await self.store.mark_digest_sent(digest.id, message.id, followups_owed=followups)
        log.info("sent %s (%d posts) in #%s", what, total, channel.name)
        if followups:
            await self._follow_up(digest, channel, message, rendered.thread_name)

    async def _forum_post(
        self, forum, digest: Digest, rendered: RenderedDigest, embed: discord.Embed
    ) -> int:
        """The digest's forum post, made once (a forum post takes no nonce: one begun before
        is looked for first)."""
        name = rendered.thread_name
        if digest.started_at is not None:
            found = await _find_forum_post(self.bot, forum, name, digest.started_at)
            if found is not None:
                return found
        created = await send_plainly(
            lambda: forum.create_thread(
                name=name,
                embed=embed,
                allowed_mentions=NO_MENTIONS,
                auto_archive_duration=digest.auto_archive_minutes,
            ),
            lambda: forum.create_thread(
                name=name,
                content=rendered.plain,
                allowed_mentions=NO_MENTIONS,
                auto_archive_duration=digest.auto_archive_minutes,
            ),
            f"digest {digest.id}",
        )
        return created.thread.id

    async def _follow_up(self, digest: Digest, channel, message, name: str) -> None:
        thread_id = None
        try:
            thread_id = await publish_and_open_thread(
                channel, message, name, digest.threads, digest.auto_archive_minutes
            )
        finally:
            await self.store.digest_followups_done(digest.id, thread_id)

    async def finish_followups(self) -> None:
        """Publishing and threads of sent digests that a crash left undone."""
        for digest in await self.store.owed_digest_followups():
            try:
                channel = await self.deliverer._channel(digest.channel_id)
            except DeliveryFailed as exc:
                log.info("follow-ups of digest %s dropped: %s", digest.id, exc)
                await self.store.digest_followups_done(digest.id)
                continue
            name = digest_thread_name(
                digest.feed_title, digest.feed_url, digest.period_end, digest.zone
            )
            message = channel.get_partial_message(digest.message_id)
            await self._follow_up(digest, channel, message, name)

    def _retry_at(self, digest: Digest) -> float:
        timing = self.bot.timing
        return retry_at(timing.delivery_backoff, digest.attempts, timing.delivery_backoff_cap)

    async def _postpone(self, digest: Digest, error: str, *, settled: bool = False) -> None:
        log.info("digest %s to #%s postponed: %s", digest.id, digest.channel_id, error)
        await self.store.mark_digest_failed(
            digest.id, error, next_attempt_at=self._retry_at(digest), settled=settled
        )

    async def _refused(self, digest: Digest, error: str) -> None:
        skipped = await self.store.refuse_digest(
            digest.id, error, next_attempt_at=self._retry_at(digest), give_up_after=MAX_REFUSALS
        )
        log.warning(
            "digest %s %s in #%s: %s",
            digest.id,
            "skipped" if skipped else "refused",
            digest.channel_id,
            error,
        )
