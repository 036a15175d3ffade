"""A blog's whole history into the archive: the WordPress REST API where the blog offers it,
else the feed's older pages (`?paged=2`, `3`, …). Nothing backfilled is ever announced."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .feeds import FeedParseError, parse_feed
from .fetch import Fetcher, FetchError, HTTPStatusError
from .models import Entry, Feed
from .store import Store
from .wordpress import WordPressError, find_rest_root, iter_rest_posts

log = logging.getLogger(__name__)

MAX_FEED_PAGES = 1000  # a stop for feeds that answer every page with the same entries


@dataclass(slots=True)
class Progress:
    source: str = "feed pages"  # or "the WordPress REST API"
    pages: int = 0
    total_pages: int | None = None
    seen: int = 0  # entries read
    stored: int = 0  # of which new to the archive
    finished: bool = False
    error: str | None = None


ProgressCallback = Callable[[Progress], Awaitable[None]]


def page_url(feed_url: str, page: int) -> str:
    return f"{feed_url}{'&' if '?' in feed_url else '?'}paged={page}"


def site_of(feed: Feed) -> str:
    if feed.site_url:
        return feed.site_url
    parts = urlsplit(feed.url)
    return f"{parts.scheme}://{parts.netloc}/"


async def backfill(
    store: Store, fetcher: Fetcher, feed: Feed, on_progress: ProgressCallback | None = None
) -> Progress:
    """Import every post the blog still publishes; returns the final progress."""
    progress = Progress()
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
        root = await find_rest_root(fetcher, site_of(feed))
        if root is not None:
            progress.source = "the WordPress REST API"
            try:
                await _from_rest(store, fetcher, feed, root, progress, report, history)
            except WordPressError as exc:
                # some hosts break REST half way; the feed pages still work
                log.info("REST backfill of %s failed (%s); walking feed pages", feed.url, exc)
                progress.source = "feed pages"
                progress.pages = 0
                progress.total_pages = None
                await _from_feed_pages(store, fetcher, feed, progress, report, history)
        else:
            await _from_feed_pages(store, fetcher, feed, progress, report, history)
    except (FetchError, FeedParseError, WordPressError) as exc:
        progress.error = str(exc)
    progress.finished = True
    await report()
    await store.index_pending()
    return progress


async def _from_rest(store, fetcher, feed, root, progress, report, history) -> None:
    pages = iter_rest_posts(fetcher, root)
    async for entries in pages:
        progress.pages += 1
        progress.total_pages = pages.total_pages
        progress.seen += len(entries)
        progress.stored += len(await store.store_entries(feed.id, history(entries), announce=False))
        await report()


async def _from_feed_pages(store, fetcher, feed, progress, report, history) -> None:
    known = await store.known_keys(feed.id)
    for number in range(2, MAX_FEED_PAGES + 2):
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
        progress.pages += 1
        progress.seen += len(parsed.entries)
        stored = await store.store_entries(feed.id, history(parsed.entries), announce=False)
        progress.stored += len(stored)
        known |= keys
        await report()
