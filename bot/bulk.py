"""Following many feeds at once (an OPML import), then importing their histories, paced.

The first read of each feed (fetch, parse, store) runs concurrently, BULK_FETCHES at a time
and BULK_FETCHES_PER_HOST to any one site, through the poller's read slots and parse thread;
feeds and subscriptions are written in batches (one transaction for whatever is ready
together). As with `/feed add`, each feed's existing posts are archived, never announced to
the new subscription: they are stored before it exists. Knows nothing of Discord.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from .backfill import Quota, backfill
from .batching import BatchWriter
from .fetch import Fetcher, FetchError, check_url
from .limits import (
    BULK_BACKFILLS,
    BULK_FETCHES,
    BULK_FETCHES_PER_HOST,
    MAX_ERROR,
    MAX_URL,
    clip,
)
from .models import BackfillProgress, BulkFollow, BulkProgress, Feed, Outline
from .poller import FeedPoller, SubscribeError
from .store import Store

log = logging.getLogger(__name__)

Progress = Callable[[BulkProgress], Awaitable[None]]


async def _nothing(_: BulkProgress) -> None:
    return None


def plan(outlines: Iterable[Outline], channel_for: Callable[[Outline], int]) -> list[BulkFollow]:
    """One follow per (feed URL, channel), in file order (a list may repeat a feed)."""
    follows: dict[tuple[str, int], BulkFollow] = {}
    for outline in outlines:
        channel = channel_for(outline)
        follows.setdefault((outline.url, channel), BulkFollow(outline, channel))
    return list(follows.values())


class BulkFollower:
    """Follows the planned feeds in one server; `progress` is told after each feed."""

    def __init__(
        self,
        poller: FeedPoller,
        guild_id: int,
        *,
        progress: Progress = _nothing,
        fetches: int = BULK_FETCHES,
        per_host: int = BULK_FETCHES_PER_HOST,
    ) -> None:
        self.poller = poller
        self.store: Store = poller.store
        self.guild_id = guild_id
        self.progress = progress
        self.report = BulkProgress()
        self.followed: dict[int, Feed] = {}  # feed id -> feed, of the subscriptions added
        self._fetches = asyncio.Semaphore(fetches)
        self._per_host = per_host
        self._host_slots: dict[str, asyncio.Semaphore] = {}  # host -> its share of fetches
        self._feeds = BatchWriter(self.store.add_feeds)
        self._subscriptions = BatchWriter(self.store.add_subscriptions)

    async def follow(self, follows: list[BulkFollow]) -> BulkProgress:
        report = self.report
        report.total = len(follows)
        subs = await self.store.guild_subscriptions(self.guild_id)
        known = {(s.feed_url, s.channel_id) for s in subs}
        todo = []
        for item in follows:
            if (item.outline.url, item.channel_id) in known:
                report.skipped += 1
            else:
                todo.append(item)
        await self.progress(report)
        await asyncio.gather(*(self._follow_one(item) for item in todo))
        if self.followed:
            # the feeds are checked as often as their most eager subscription asks
            await self.store.refresh_poll_interval(self.poller.default_interval)
        report.finished = True
        return report

    async def _follow_one(self, item: BulkFollow) -> None:
        try:
            url = self._checked(item.outline.url)
            # stored within the slot too: at most `fetches` feeds read and held in memory
            async with self._fetches:
                feed, added = await self._read_and_store(item, url)
        except (SubscribeError, FetchError) as exc:
            item.error = clip(str(exc), MAX_ERROR)
            self.report.failed.append(item)
        except Exception:
            log.exception("following %s failed unexpectedly", clip(item.outline.url, 300))
            item.error = "internal error (logged)"
            self.report.failed.append(item)
        else:
            if added:
                self.report.followed += 1
                self.followed[feed.id] = feed
            else:  # the URL led to a feed the channel already follows
                self.report.skipped += 1
        await self.progress(self.report)

    async def _read_and_store(self, item: BulkFollow, url: str) -> tuple[Feed, bool]:
        async with self._host(url):
            found = await self.poller.read_new(url)
        item.title = found.parsed.title or item.outline.title
        feed = await self._feeds.write(self.poller.new_feed(found))
        item.feed_id = feed.id
        # stored before the subscription exists: owed to those who already follow the
        # feed, never announced to the new one (as /feed add)
        await self.poller.store_new(feed.id, found.parsed.entries)
        added = await self._subscriptions.write((feed.id, self.guild_id, item.channel_id))
        return feed, added

    def _checked(self, url: str) -> str:
        if len(url) > MAX_URL:
            raise SubscribeError(f"the address is over {MAX_URL:,} characters")
        # the scheme here (javascript:, file:); addresses where the session connects, on
        # every hop, as for /feed add (private ones refused unless ALLOW_PRIVATE_FEEDS)
        check_url(url, allow_private=True)
        return url

    def _host(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        slots = self._host_slots.get(host)
        if slots is None:
            slots = self._host_slots[host] = asyncio.Semaphore(self._per_host)
        return slots


async def import_histories(
    store: Store,
    fetcher: Fetcher,
    feeds: list[Feed],
    report: BulkProgress,
    quota: Quota,
    *,
    progress: Progress = _nothing,
    at_once: int = BULK_BACKFILLS,
) -> BulkProgress:
    """The whole history of each feed into the archive (nothing announced), `at_once` feeds
    at a time so that an import of 1,000 feeds does not read 1,000 sites at once."""
    report.history_total = len(feeds)
    await progress(report)
    slots = asyncio.Semaphore(at_once)

    async def one(feed: Feed) -> None:
        last = BackfillProgress()

        async def keep(progress_: BackfillProgress) -> None:
            nonlocal last
            last = progress_

        async with slots:
            try:
                await backfill(store, fetcher, feed, keep, quota)
            except Exception:
                log.exception("history import of %s failed", clip(feed.url, 300))
        report.history_done += 1
        report.history_posts += last.stored
        await progress(report)

    await asyncio.gather(*(one(feed) for feed in feeds))
    return report
