"""A blog's whole history into the archive: the WordPress REST API where the blog offers it,
else the feed's older pages (`?paged=2`, `3`, …). Nothing backfilled is ever announced.

Each backfill has a quota of pages, posts and megabytes read (BACKFILL_MAX_* settings, so
that one blog cannot fill the disk for everyone); pages are stored as they arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .feeds import FeedParseError, parse_feed
from .fetch import Fetcher, FetchError, HTTPStatusError
from .limits import BACKFILL_MAX_MB, BACKFILL_MAX_PAGES, BACKFILL_MAX_POSTS
from .models import BackfillProgress, Entry, Feed, FetchResult
from .store import Store
from .wordpress import WordPressError, find_rest_root, iter_rest_posts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Quota:
    """How much of one blog a backfill may read (defaults from bot/limits.py)."""

    posts: int = BACKFILL_MAX_POSTS
    pages: int = BACKFILL_MAX_PAGES
    megabytes: int = BACKFILL_MAX_MB

    @classmethod
    def from_settings(cls, settings) -> Quota:
        return cls(
            settings.backfill_max_posts, settings.backfill_max_pages, settings.backfill_max_mb
        )


class _Metered:
    """A fetcher that counts the bytes the blog sends (every request of the backfill)."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self.bytes = 0

    async def get(self, url: str, **kwargs) -> FetchResult:
        result = await self._fetcher.get(url, **kwargs)
        self.bytes += len(result.body)
        return result


ProgressCallback = Callable[[BackfillProgress], Awaitable[None]]


def page_url(feed_url: str, page: int) -> str:
    return f"{feed_url}{'&' if '?' in feed_url else '?'}paged={page}"


def feed_site(feed: Feed) -> str:
    """The site whose REST API backfills the feed: its site link, else the feed's origin."""
    if feed.site_url:
        return feed.site_url
    parts = urlsplit(feed.url)
    return f"{parts.scheme}://{parts.netloc}/"


class _Budget:
    """What is left of a backfill's quota, taken page by page."""

    def __init__(self, quota: Quota, meter: _Metered) -> None:
        self.quota = quota
        self.meter = meter
        self.pages = 0
        self.posts = 0

    def take(self, entries: list[Entry]) -> list[Entry]:
        """A page arrived: its entries within the posts quota."""
        self.pages += 1
        entries = entries[: max(self.quota.posts - self.posts, 0)]
        self.posts += len(entries)
        return entries

    def spent(self) -> str | None:
        """Why no further page may be read, if a quota is used up."""
        if self.posts >= self.quota.posts:
            return f"stopped at {self.posts:,} posts, the BACKFILL_MAX_POSTS limit"
        if self.pages >= self.quota.pages:
            return f"stopped at {self.pages:,} pages, the BACKFILL_MAX_PAGES limit"
        if self.meter.bytes >= self.quota.megabytes * 1024 * 1024:
            return f"stopped at {self.quota.megabytes:,} MB read, the BACKFILL_MAX_MB limit"
        return None


async def backfill(
    store: Store,
    fetcher: Fetcher,
    feed: Feed,
    on_progress: ProgressCallback | None = None,
    quota: Quota | None = None,
    page: FetchResult | None = None,
) -> BackfillProgress:
    """Import every post the blog still publishes, within `quota`; returns the final
    progress (`limit` says which quota stopped it, if one did). `page`: a page of the
    site already read (see find_rest_root)."""
    progress = BackfillProgress()
    meter = _Metered(fetcher)
    budget = _Budget(quota or Quota(), meter)
    # Posts newer than the newest one known are the poller's to announce, not history
    newest = await store.newest_published(feed.id)

    def history(entries: list[Entry]) -> list[Entry]:
        if newest is None:
            return entries
        return [e for e in entries if e.published_at is None or e.published_at <= newest]

    async def report() -> None:
        if on_progress is not None:
            await on_progress(progress)

    try:
        root = await find_rest_root(meter, feed_site(feed), page)
        if root is not None:
            progress.source = "the WordPress REST API"
            try:
                await _from_rest(store, meter, feed, root, progress, report, history, budget)
            except WordPressError as exc:
                # some hosts break REST half way; the feed pages still work
                log.info("REST backfill of %s failed (%s); walking feed pages", feed.url, exc)
                progress.source = "feed pages"
                progress.pages = 0
                progress.total_pages = None
                await _from_feed_pages(store, meter, feed, progress, report, history, budget)
        else:
            await _from_feed_pages(store, meter, feed, progress, report, history, budget)
    except (FetchError, FeedParseError, WordPressError) as exc:
        progress.error = str(exc)
    if progress.limit:
        log.info("backfill of %s %s", feed.url, progress.limit)
    progress.finished = True
    await report()
    await store.index_pending()
    return progress


async def _from_rest(store, fetcher, feed, root, progress, report, history, budget) -> None:
    pages = iter_rest_posts(fetcher, root, max_pages=budget.quota.pages)
    async for entries in pages:
        entries = budget.take(entries)
        progress.pages += 1
        progress.total_pages = pages.total_pages
        progress.seen += len(entries)
        progress.stored += len(await store.store_entries(feed.id, history(entries), announce=False))
        await report()
        last = pages.total_pages is not None and progress.pages >= pages.total_pages
        if not last and (why := budget.spent()):
            progress.limit = why
            return


async def _from_feed_pages(store, fetcher, feed, progress, report, history, budget) -> None:
    known = await store.known_keys(feed.id)
    number = 1
    while not (why := budget.spent()):
        number += 1
        try:
            result = await fetcher.get(page_url(feed.url, number))
        except HTTPStatusError as exc:
            if exc.status in (404, 410):
                return  # WordPress answers 404 past the last page
            raise
        try:
            parsed = await asyncio.to_thread(parse_feed, result.body, result.url)
        except FeedParseError:
            if number > 2:
                return  # some blogs answer an HTML page past the end
            raise
        keys = {entry.key for entry in parsed.entries}
        if not keys or keys <= known:
            return  # no older entries, or a blog that ignores ?paged and repeats page 1
        entries = budget.take(parsed.entries)
        progress.pages += 1
        progress.seen += len(entries)
        stored = await store.store_entries(feed.id, history(entries), announce=False)
        progress.stored += len(stored)
        known |= keys
        await report()
    progress.limit = why
