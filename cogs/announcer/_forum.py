"""Announcing in a forum: each post its own forum post, made once even across a crash."""

from __future__ import annotations

import logging

import discord

from bot.app import Gazette
from bot.limits import CLOCK_SKEW
from bot.render.markdown import thread_name

from ..common.channels import forum_tags, snowflake_before
from ..common.sending import send_plainly
from ..common.styles import AnnouncementMessage
from ._errors import DeliveryFailed

log = logging.getLogger(__name__)


async def forum_post(bot: Gazette, forum, delivery, post, message: AnnouncementMessage) -> int:
    """The delivery's forum post, created once: its thread id. The post's title is the
    thread's name; its starter message is the announcement in the subscription's style.

    A forum post takes no nonce: a delivery begun before (its intent is recorded before
    any request) may already be on Discord, the bot having died before hearing back, and
    is looked for first.
    """
    name = thread_name(post.title)
    if delivery.started_at is not None:
        found = await _find_forum_post(bot, forum, name, delivery.started_at)
        if found is not None:
            log.info("post %s was already in forum #%s (thread %s)", post.id, forum.name, found)
            return found
    tags = forum_tags(forum, post.categories)
    created = await send_plainly(
        lambda: forum.create_thread(
            name=name,
            content=message.content,
            embed=message.embed,
            allowed_mentions=message.mentions,
            applied_tags=tags,
            auto_archive_duration=delivery.auto_archive_minutes,
        ),
        lambda: forum.create_thread(
            name=name,
            content=message.plain,
            allowed_mentions=message.mentions,
            auto_archive_duration=delivery.auto_archive_minutes,
        ),
        f"post {post.id}",
    )
    return created.thread.id


async def _find_forum_post(bot: Gazette, forum, name: str, started_at: float) -> int | None:
    """The forum post this bot made for a delivery begun at `started_at`, if Discord has it:
    its own post in this forum, under this exact name, created since, that no delivery
    or discussion holds (a channel's deliveries go one at a time, so no other one can
    be it). An unanswerable question is DeliveryFailed: retried, never posted twice."""
    since = started_at - CLOCK_SKEW
    floor = snowflake_before(started_at)
    me = bot.user.id
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
    held = await bot.store.recorded_threads(mine)
    return min((tid for tid in mine if tid not in held), default=None)
