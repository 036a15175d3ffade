"""A feed's history imported in the background, its progress shown in the command's answer."""

from __future__ import annotations

import asyncio
import logging
import time

import discord

from bot.app import Gazette
from bot.backfill import Quota, backfill
from bot.models import BackfillProgress, Feed, FetchResult
from bot.render.markdown import cut_plain, inline_markdown
from bot.scheduling import create_task

log = logging.getLogger(__name__)


def describe(progress: BackfillProgress) -> str:
    """One line about a backfill, for the message that shows its progress."""
    pages = f"page {progress.pages}" + (
        f" of {progress.total_pages}" if progress.total_pages else ""
    )
    found = f"{progress.stored} older posts added to the archive ({progress.seen} read)"
    if progress.error:
        error = inline_markdown(progress.error, 300)
        return f"⚠️ Importing the history stopped at {pages}: {error}. {found}."
    if progress.limit:
        return f"⏹️ History import {progress.limit}: {found}."
    if progress.finished:
        return f"✅ History imported through {progress.source}: {found}."
    return f"⏳ Importing the history through {progress.source}: {pages}, {found}…"


class Backfills:
    """The running history imports, one per feed at most."""

    def __init__(self, bot: Gazette) -> None:
        self.bot = bot
        self._running: dict[int, asyncio.Task] = {}  # feed id → its running import

    def running(self, feed_id: int) -> bool:
        task = self._running.get(feed_id)
        return task is not None and not task.done()

    def cancel_all(self) -> None:
        for task in self._running.values():
            task.cancel()

    def start(
        self,
        interaction: discord.Interaction,
        feed: Feed,
        intro: str,
        page: FetchResult | None = None,
    ) -> None:
        """Import the blog's history in the background, showing progress in the answer
        (`page`: a page of the site already read, not fetched again)."""
        if self.running(feed.id):
            return
        self._running = {k: t for k, t in self._running.items() if not t.done()}
        work = self._backfill(interaction, feed, intro, page)
        self._running[feed.id] = create_task(work, name=f"backfill feed {feed.id}")

    async def _backfill(
        self,
        interaction: discord.Interaction,
        feed: Feed,
        intro: str,
        page: FetchResult | None = None,
    ) -> None:
        last_edit = 0.0

        async def show(progress: BackfillProgress) -> None:
            nonlocal last_edit
            now = time.monotonic()
            if not progress.finished and now - last_edit < 1.0:
                return  # at most one edit a second: Discord rate-limits edits
            last_edit = now
            try:
                await interaction.edit_original_response(content=intro + describe(progress))
            except discord.HTTPException as exc:
                log.info("could not show backfill progress: %s", exc)

        try:
            quota = Quota.from_settings(self.bot.settings)
            await backfill(self.bot.store, self.bot.fetcher, feed, show, quota, page)
        except Exception:
            log.exception("backfill of %s failed", cut_plain(feed.url, 300))
            await show(BackfillProgress(finished=True, error="unexpected error (logged)"))
