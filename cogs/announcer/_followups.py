"""After an announcement is sent: publishing it (announcement channels), opening its thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import discord

from bot.models import Delivery
from bot.render.markdown import thread_name
from bot.scheduling import create_task

log = logging.getLogger(__name__)

# Discord's error codes that say a follow-up was already done
ALREADY_CROSSPOSTED = 40033
THREAD_ALREADY_CREATED = 160004


async def follow_up(
    store, delivery: Delivery, channel, message, title: str, lane: FollowupLane | None = None
) -> None:
    """Publish the announcement and open its thread, each once: both are recorded as owed
    with the send, so a crash in between is finished by the next round (Discord's
    "already crossposted" / "thread already created" then say it was done). The thread's
    id is recorded with the follow-ups' end, in one write.

    With the channel worker's `lane`, they run while the worker sends the channel's next
    announcement."""
    if lane is None:
        await _follow_up(store, delivery, channel, message, title)
    else:
        await lane.hand_over(lambda: _follow_up(store, delivery, channel, message, title))


async def _follow_up(store, delivery: Delivery, channel, message, title: str) -> None:
    thread_id = None
    try:
        thread_id = await publish_and_open_thread(
            channel, message, title, delivery.threads, delivery.auto_archive_minutes
        )
    finally:
        await store.followups_done(delivery.id, thread_id)


async def publish_and_open_thread(
    channel, message, title: str, threads: bool, auto_archive_minutes: int
) -> int | None:
    """Publish the message (announcement channels) and, with `threads`, open its thread;
    each may have been done before a crash. The thread's id, if one is open."""
    if channel.is_news():
        try:
            await message.publish()
        except discord.HTTPException as exc:
            if exc.code != ALREADY_CROSSPOSTED:
                log.warning("could not publish message %s: %s", message.id, exc)
    if threads:
        return await _open_thread(message, title, auto_archive_minutes)
    return None


async def _open_thread(message, title: str, auto_archive_minutes: int) -> int | None:
    """The thread opened on the announcement (its id), or None if Discord would not."""
    try:
        thread = await message.create_thread(
            name=thread_name(title), auto_archive_duration=auto_archive_minutes
        )
    except discord.HTTPException as exc:
        if exc.code == THREAD_ALREADY_CREATED:  # before a crash: its id is the message's
            return message.id
        # the announcement stands; the discussion can still be opened later
        log.warning("could not open a thread on message %s: %s", message.id, exc)
        return None
    return thread.id


class FollowupLane:
    """A channel's follow-ups, one at a time beside its worker's sends: the next announcement
    goes out while the previous one's thread opens, and its next batch while its last
    thread opens (bench_e2e's burst p50 3.97 → 1.77-2.65 s on a loaded machine). Discord's
    per-channel buckets for messages and threads are separate; the global budget is the
    bot's RequestPacer."""

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self._pending: asyncio.Task | None = None

    @property
    def busy(self) -> bool:
        """A follow-up is under way."""
        return self._pending is not None and not self._pending.done()

    async def hand_over(self, work: Callable[[], Awaitable[None]]) -> None:
        """Start `work` once the previous follow-up is done (the channel's threads open in
        its announcements' order, at most one at a time)."""
        await self.drain()
        self._pending = create_task(work(), name=f"follow-ups in #{self.channel_id}")

    async def drain(self) -> None:
        """Until the follow-up under way, if any, is done (its failure is logged by
        `create_task`; the follow-ups stay owed in the store and are finished later)."""
        if self._pending is not None:
            await asyncio.wait([self._pending])
            self._pending = None

    def cancel(self) -> None:
        """Stop the follow-up under way (shutting down: it is still owed, and finished after
        the restart, when Discord's "thread already created" says if it was done)."""
        if self._pending is not None:
            self._pending.cancel()
