"""Filling the archive in bulk: any source of entries (an export file, REST pages) into the
store, in batches, never announced, idempotent (a second run adds nothing)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .models import Entry
from .store import Store
from .wxr import WxrReader

log = logging.getLogger(__name__)

BATCH_SIZE = 500
OPTIMIZE_AFTER = 2000  # merge the search index after an import that added this many posts

# progress(posts read, posts added): called after every batch
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class ImportResult:
    feed_id: int
    read: int  # entries read from the source
    added: int  # new posts stored (the rest were already in the archive)
    seconds: float

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


def _take(iterator: Iterator[Entry], n: int) -> list[Entry]:
    return list(itertools.islice(iterator, n))


async def _batches_of(
    entries: Iterable[Entry] | AsyncIterable[Entry], size: int
) -> AsyncIterable[list[Entry]]:
    if isinstance(entries, AsyncIterable):
        batch: list[Entry] = []
        async for entry in entries:
            batch.append(entry)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    # a blocking source (parsing a file): read the next batch in a thread while the
    # current one is being stored
    iterator = iter(entries)
    pending = asyncio.ensure_future(asyncio.to_thread(_take, iterator, size))
    while True:
        batch = await pending
        if not batch:
            return
        pending = asyncio.ensure_future(asyncio.to_thread(_take, iterator, size))
        try:
            yield batch
        except BaseException:
            pending.cancel()
            raise


async def import_entries(
    store: Store,
    feed_id: int,
    entries: Iterable[Entry] | AsyncIterable[Entry],
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    optimize: bool = True,
) -> ImportResult:
    """Store entries into a feed's archive without announcing them."""
    start = time.perf_counter()
    read = added = 0
    async for batch in _batches_of(entries, batch_size):
        read += len(batch)
        added += len(await store.store_entries(feed_id, batch, announce=False))
        await store.index_pending()
        if progress:
            progress(read, added)
    if optimize and added >= OPTIMIZE_AFTER:
        await store.optimize_archive()
    return ImportResult(feed_id, read, added, time.perf_counter() - start)


async def import_wxr(
    store: Store,
    source: str | Path | BinaryIO | WxrReader,
    feed_url: str,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    optimize: bool = True,
) -> tuple[ImportResult, WxrReader]:
    """Import the published posts of a WordPress export into the feed at `feed_url`
    (created if unknown: a feed nobody subscribes to is kept but never polled)."""
    start = time.perf_counter()
    reader = source if isinstance(source, WxrReader) else WxrReader(source)
    entries = iter(reader)
    # the channel's title comes before the first post: read one batch, then name the feed
    first = await asyncio.to_thread(_take, entries, batch_size)
    feed = await store.get_feed_by_url(feed_url)
    if feed is None:
        feed = await store.add_feed(
            feed_url,
            title=reader.site_title,
            site_url=reader.site_link,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_check_at=0.0,
        )
    result = await import_entries(
        store,
        feed.id,
        itertools.chain(first, entries),
        batch_size=batch_size,
        progress=progress,
        optimize=optimize,
    )
    result.seconds = time.perf_counter() - start
    return result, reader
