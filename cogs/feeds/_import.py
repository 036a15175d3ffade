"""`/feed import`: every feed of an OPML file followed at once, then their histories imported.

The reading, following and history import are bot/opml.py and bot/bulk.py; this module maps
categories to channels and shows the progress in the command's answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import discord

from bot.app import Gazette
from bot.backfill import Quota
from bot.bulk import BulkFollower, import_histories, plan
from bot.errors import UserError
from bot.limits import MAX_OPML_BYTES
from bot.models import BulkProgress, Outline
from bot.opml import read_opml
from bot.render.markdown import inline_markdown
from bot.scheduling import create_task

from ..common.channels import missing_permissions

log = logging.getLogger(__name__)

EDIT_EVERY = 3.0  # seconds between two edits of the answer while an import runs
FAILURES_SHOWN = 5
CATEGORIES_SHOWN = 10


def channel_key(name: str) -> str:
    """A category or channel name as compared: case aside, spaces as Discord's dashes."""
    return "-".join(name.casefold().split())


class Imports:
    """The running imports' history phases (cancelled when the cog unloads)."""

    def __init__(self, bot: Gazette, busy: Callable[[int], bool]) -> None:
        """`busy(feed_id)`: whether that feed's history is already being read elsewhere."""
        self.bot = bot
        self._busy = busy
        self._tasks: set[asyncio.Task] = set()
        self._importing: set[int] = set()  # feed ids whose history an import still owes

    def importing(self, feed_id: int) -> bool:
        return feed_id in self._importing

    def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def run(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        channel: discord.abc.GuildChannel,
        by_category: bool,
        postable: list[discord.abc.GuildChannel],
    ) -> None:
        """Follow the file's feeds (the answer already deferred), then import their
        histories in the background; `postable`: the channels the bot can announce in."""
        if file.size > MAX_OPML_BYTES:
            raise UserError(f"That file is over {MAX_OPML_BYTES // 1024:,} KB: not read.")
        outlines = await asyncio.to_thread(read_opml, await file.read())
        by_name = {channel_key(c.name): c.id for c in postable}
        unmatched: dict[str, None] = {}

        def channel_for(outline: Outline) -> int:
            if by_category and outline.category:
                found = by_name.get(channel_key(outline.category))
                if found is not None:
                    return found
                unmatched[outline.category] = None
            return channel.id

        follows = plan(outlines, channel_for)
        shown = _Shown(interaction, f"{_file_name(file)}: ")
        follower = BulkFollower(self.bot.poller, interaction.guild_id, progress=shown.progress)
        report = await follower.follow(follows)
        text = summary(report, channel, list(unmatched))
        await shown.edit(text, force=True)
        if follower.followed:
            shown.intro += text + "\n"
            work = self._histories(list(follower.followed.values()), report, shown)
            task = create_task(work, name=f"history of an import in {interaction.guild_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _histories(self, feeds, report: BulkProgress, shown: _Shown) -> None:
        quota = Quota.from_settings(self.bot.settings)
        # a feed another import or /feed backfill is already reading is not read twice
        feeds = [f for f in feeds if not (f.id in self._importing or self._busy(f.id))]
        ids = {f.id for f in feeds}
        self._importing |= ids
        try:
            await import_histories(
                self.bot.store, self.bot.fetcher, feeds, report, quota, progress=shown.history
            )
        finally:
            self._importing -= ids


class _Shown:
    """The command's answer, edited as the import goes (every EDIT_EVERY seconds at most)."""

    def __init__(self, interaction: discord.Interaction, intro: str) -> None:
        self.interaction = interaction
        self.intro = intro
        self._last = 0.0

    async def progress(self, report: BulkProgress) -> None:
        await self.edit(
            f"⏳ Following feeds: {report.done:,} of {report.total:,} done ({report.followed:,}"
            f" followed, {report.skipped:,} skipped, {len(report.failed):,} failed)…"
        )

    async def history(self, report: BulkProgress) -> None:
        finished = report.history_done == report.history_total
        state = "✅ History imported" if finished else "⏳ Importing their histories"
        await self.edit(
            f"{state}: {report.history_done:,} of {report.history_total:,} feeds,"
            f" {report.history_posts:,} older posts added to the archive (nothing announced)"
            + ("." if finished else "…"),
            force=finished,
        )

    async def edit(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < EDIT_EVERY:
            return  # Discord rate-limits edits
        self._last = now
        try:
            await self.interaction.edit_original_response(content=(self.intro + text)[:2000])
        except discord.HTTPException as exc:  # the token lasts 15 minutes; the work goes on
            log.info("could not show the import's progress: %s", exc)


def _file_name(file: discord.Attachment) -> str:
    return f"**{inline_markdown(file.filename, 100, 'the file')}**"


def summary(report: BulkProgress, channel, unmatched: list[str]) -> str:
    """What an import did, for its answer."""
    lines = [
        f"Followed {report.followed:,} of the {report.total:,} feeds in the file;"
        f" {report.skipped:,} skipped (already followed in their channel),"
        f" {len(report.failed):,} failed."
    ]
    if report.followed:
        lines.append(
            "Their existing posts were stored in the archive without announcing them; new"
            " posts will be announced."
        )
    if report.failed:
        lines.append(f"Failed{' (the first few)' if len(report.failed) > FAILURES_SHOWN else ''}:")
        for item in report.failed[:FAILURES_SHOWN]:
            name = inline_markdown(item.outline.title or item.outline.url, 80, "(untitled)")
            lines.append(f"- {name}: {inline_markdown(item.error, 200)}")
    if unmatched:
        names = ", ".join(inline_markdown(n, 50, "?") for n in unmatched[:CATEGORIES_SHOWN])
        more = f" and {len(unmatched) - CATEGORIES_SHOWN} more" if len(unmatched) > 10 else ""
        lines.append(
            f"No channel I can post in is named like these categories, so their feeds went to"
            f" {channel.mention}: {names}{more}."
        )
    return "\n".join(lines)


def postable_channels(guild: discord.Guild, types, needed) -> list[discord.abc.GuildChannel]:
    """The server's channels of `types` the bot has the `needed` permissions in."""
    me = guild.me
    return [c for c in guild.channels if c.type in types and not missing_permissions(c, me, needed)]
