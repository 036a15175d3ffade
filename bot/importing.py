"""Filling the archive in bulk: any source of entries (an export file, REST pages) into the
store, in batches, never announced, idempotent (a second run adds nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import sys
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
)
from pathlib import Path
from typing import BinaryIO

from .models import Entry, ImportResult
from .store import Store
from .wxr import WxrError, WxrReader

BATCH_SIZE = 500
OPTIMIZE_AFTER = 2000  # merge the search index after an import that added this many posts
INDEX_EVERY = 2000  # index new posts for search after this many (larger index segments)
PROCESS_ABOVE = 4 << 20  # parse export files larger than this in a separate process
_ROOT = str(Path(__file__).resolve().parents[1])  # where `bot` is, for the child process

# progress(posts read, posts added): called after every batch
ImportProgress = Callable[[int, int], None]


def _take(iterator: Iterator[Entry], n: int) -> list[Entry]:
    return list(itertools.islice(iterator, n))


async def _batches_of(
    entries: Iterable[Entry] | AsyncIterable[Entry], size: int
) -> AsyncGenerator[list[Entry]]:
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


async def _store_batches(
    store: Store,
    feed_id: int,
    batches: AsyncIterable[list[Entry]],
    *,
    progress: ImportProgress | None,
    optimize: bool,
) -> ImportResult:
    start = time.perf_counter()
    read = added = indexed = 0
    async for batch in batches:
        read += len(batch)
        added += len(await store.store_entries(feed_id, batch, announce=False))
        if added - indexed >= INDEX_EVERY:
            await store.index_pending()
            indexed = added
        if progress:
            progress(read, added)
    await store.index_pending()
    if optimize and added >= OPTIMIZE_AFTER:
        await store.optimize_archive()
    return ImportResult(feed_id, read, added, time.perf_counter() - start)


async def import_wxr(
    store: Store,
    source: str | Path | BinaryIO | WxrReader,
    feed_url: str,
    *,
    batch_size: int = BATCH_SIZE,
    progress: ImportProgress | None = None,
    optimize: bool = True,
    process_above: int = PROCESS_ABOVE,
) -> tuple[ImportResult, WxrReader]:
    """Import the published posts of a WordPress export into the feed at `feed_url`
    (created if unknown: a feed nobody subscribes to is kept but never polled).

    A file larger than `process_above` bytes is parsed in a separate process, so parsing
    and storing use two cores (Python threads would share one)."""
    start = time.perf_counter()
    reader = source if isinstance(source, WxrReader) else WxrReader(source)
    path = reader.path
    batches: AsyncGenerator[list[Entry]]
    if path is not None and path.stat().st_size > process_above:
        batches = _parsed_elsewhere(reader, path, batch_size)
    else:
        batches = _batches_of(iter(reader), batch_size)
    try:
        # the channel's title comes before the first post: read one batch, name the feed
        first = await anext(batches, [])
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

        async def all_batches() -> AsyncIterator[list[Entry]]:
            if first:
                yield first
            async for batch in batches:
                yield batch

        result = await _store_batches(
            store, feed.id, all_batches(), progress=progress, optimize=optimize
        )
    finally:
        await batches.aclose()
    result.seconds = time.perf_counter() - start
    return result, reader


async def _parsed_elsewhere(
    reader: WxrReader, path: Path, batch_size: int
) -> AsyncGenerator[list[Entry]]:
    """Batches parsed by `python -m bot.wxr` in a child process (see bot.wxr.main)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")])),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.wxr",
        str(path),
        str(batch_size),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        while True:
            try:
                size = int.from_bytes(await proc.stdout.readexactly(8), "big")
                kind, payload, stats = pickle.loads(await proc.stdout.readexactly(size))
            except asyncio.IncompleteReadError:
                err = (await proc.stderr.read()).decode(errors="replace").strip()
                raise WxrError(f"the parsing process stopped: {err[-300:]}") from None
            reader.update(stats)
            if kind == "done":
                return
            if kind == "error":
                raise WxrError(payload)
            if payload:
                yield payload
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
