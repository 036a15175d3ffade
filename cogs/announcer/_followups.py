"""After an announcement is sent: publishing it (announcement channels), opening its thread."""

from __future__ import annotations

import logging

import discord

from bot.models import Delivery
from bot.render.markdown import thread_name

log = logging.getLogger(__name__)

# Discord's error codes that say a follow-up was already done
ALREADY_CROSSPOSTED = 40033
THREAD_ALREADY_CREATED = 160004


async def follow_up(store, delivery: Delivery, channel, message, title: str) -> None:
    """Publish the announcement and open its thread, each once: both are recorded as owed
    with the send, so a crash in between is finished by the next round (Discord's
    "already crossposted" / "thread already created" then say it was done). The thread's
    id is recorded with the follow-ups' end, in one write."""
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
