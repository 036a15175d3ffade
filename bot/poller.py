"""Following feeds: subscribe, poll the due ones, store what is new. Knows nothing of Discord."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from .batching import BatchWriter
from .discovery import DiscoveryError, discover, looks_like_html
from .edits import RestRoot, compare, removed_posts, shown_hash
from .errors import UserError
from .feeds import FeedParseError, FeedRefused, parse_feed
from .fetch import Fetcher, FetchError, HTTPStatusError, trustworthy_validators
from .limits import (
    KNOWN_KEYS_READ,
    MAX_ANNOUNCE_PER_POLL,
    MAX_ERROR,
    MAX_PUSH_BYTES_QUEUED,
    MAX_PUSHES_QUEUED,
    MAX_SLOW_FEED_CHECKS,
    NEW_HTML_PER_DAY,
    NEW_POSTS_PER_DAY,
    PUSH_SAFETY_NET,
    SLOW_READ_AFTER,
    clip,
)
from .models import (
    Discovered,
    Entry,
    Feed,
    FeedCheck,
    FeedEvent,
    NewFeed,
    PollReport,
    Revision,
    Subscribed,
)
from .retry import retry_at
from .scheduling import START_SLICE, KeyedTasks, whole_cycle
from .slots import ReadSlots, Slot
from .store import Store, StoreWriteError
from .websub import push_links

log = logging.getLogger(__name__)

MAX_BACKOFF = 6 * 3600.0
FAILURES_BEFORE_NOTICE = 3
MAX_ANNOUNCE_AGE = 7 * 86400  # older entries seen for the first time are archived silently


class SubscribeError(UserError):
    """A user-facing reason why a URL cannot be followed."""


Recorded = Callable[[PollReport], Awaitable[None]]  # told of each check once it is recorded


@dataclass(slots=True)
class _DayShare:
    """What one feed's checks added to the archive since `since` (see NEW_POSTS_PER_DAY)."""

    since: float
    posts: int = 0
    html: int = 0
    warned: bool = False


def parse_thread() -> ThreadPoolExecutor:
    """The thread feeds and comment feeds are parsed in (CPU-bound, off the event loop)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="gazette-parse")


def body_hash(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


class FeedPoller:
    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        *,
        default_interval: float,
        max_concurrency: int = 32,
        max_slow: int = MAX_SLOW_FEED_CHECKS,
        slow_after: float = SLOW_READ_AFTER,
        max_backoff: float = MAX_BACKOFF,
        parse_pool: Executor | None = None,
        max_new_per_day: int = NEW_POSTS_PER_DAY,
        max_new_html_per_day: int = NEW_HTML_PER_DAY,
        known_keys_read: int = KNOWN_KEYS_READ,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.default_interval = default_interval
        self.max_backoff = max_backoff
        self._slots = ReadSlots(max_concurrency, slow=max_slow, slow_after=slow_after)
        self._in_flight = KeyedTasks()  # by feed id: its check
        self._recorder = BatchWriter(self._record_batch)
        # One parsing thread: more would only fight the event loop for the GIL and stall it
        self._owns_parser = parse_pool is None
        self._parser = parse_pool or parse_thread()
        self.max_new_per_day = max_new_per_day
        self.max_new_html_per_day = max_new_html_per_day
        self._day_shares: dict[int, _DayShare] = {}  # feed id -> what it stored today
        self.known_keys_read = known_keys_read
        # WebSub: whether the feed is pushed to us now (bot.websub sets it), and the bodies
        # pushed while the feed's check was running, the latest per feed
        self.pushed_live: Callable[[int], bool] = lambda _feed_id: False
        self._pushed: dict[int, tuple[Feed, bytes, Recorded | None]] = {}
        self._pushes_running = 0
        self._push_bytes = 0  # of the bodies pushed, being read or waiting
        self.edit_window = 0.0  # seconds announcements follow their post; 0: never edited
        self.rest_root: RestRoot | None = None  # where removed posts can be asked about
        # told as soon as deliveries are owed (committed with their posts), not when the
        # check is recorded: the announcer starts sending while the check goes on
        self.on_owed: Callable[[], None] = lambda: None

    def follow_edits(self, window: float, rest_root: RestRoot | None = None) -> None:
        """Announced posts are compared at each check for `window` seconds after publication
        (bot/edits.py); `rest_root` finds the site's REST API, to ask about posts that left
        the feed."""
        self.edit_window = window
        self.rest_root = rest_root

    def cancel_checks(self) -> None:
        """Stop the checks in flight (shutting down); they are simply done again later."""
        self._in_flight.cancel_all()

    def close(self) -> None:
        self.cancel_checks()
        if self._owns_parser:
            self._parser.shutdown(wait=False, cancel_futures=True)

    def interval(self, feed_id: int, poll_interval: float | None) -> float:
        """Seconds between a feed's checks: its interval, or slower while a hub pushes it."""
        interval = poll_interval or self.default_interval
        return max(interval * 4, PUSH_SAFETY_NET) if self.pushed_live(feed_id) else interval

    def next_check(self, feed_interval: float | None = None) -> float:
        interval = feed_interval or self.default_interval
        # jitter spreads feeds added together so they are not all fetched in the same second
        return time.time() + interval * random.uniform(0.9, 1.1)

    def backoff_until(self, failures: int, retry_after: float | None = None) -> float:
        return retry_at(self.default_interval, failures - 1, self.max_backoff, retry_after)

    async def subscribe(
        self,
        url: str,
        *,
        guild_id: int,
        channel_id: int,
        mention_role_id: int | None = None,
        threads: bool = True,
        auto_archive_minutes: int = 10080,
        interval_minutes: int | None = None,
    ) -> Subscribed:
        """Find the feed behind `url`, store every post it holds unannounced, and follow it."""
        try:
            found = await discover(self.fetcher, url)
        except (DiscoveryError, FetchError) as exc:
            raise SubscribeError(str(exc)) from exc
        parsed, result = found.parsed, found.result
        hub, topic = push_links(result, parsed)
        feed = await self.store.add_feed(
            found.feed_url,
            title=parsed.title or None,
            site_url=parsed.site_url,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=body_hash(result.body),
            next_check_at=self.next_check(),
        )
        await self.store.set_feed_hub(feed.id, hub, topic)
        # Entries new since the last poll are owed to those who already follow the feed;
        # the new subscription is added after, so it gets none of them (no flood).
        await self.store_new(feed.id, parsed.entries)
        subscription = await self.store.add_subscription(
            feed.id,
            guild_id,
            channel_id,
            mention_role_id=mention_role_id,
            threads=threads,
            auto_archive_minutes=auto_archive_minutes,
            poll_interval=interval_minutes * 60 if interval_minutes else None,
        )
        # the feed is checked as often as its most eager subscription asks, no less
        await self.store.refresh_poll_interval(self.default_interval, feed.id)
        return Subscribed(
            subscription=subscription,
            feed_title=parsed.title or feed.title or found.feed_url,
            feed_url=found.feed_url,
            stored=await self.store.count_posts(feed.id),
            page=found.page,
        )

    async def store_new(
        self,
        feed_id: int,
        entries: list[Entry],
        report: PollReport | None = None,
        item_hashes: dict[str, str] | None = None,
    ) -> int:
        """Store unseen entries; the newest few published recently are owed to every
        subscription. Returns how many are announced (those archived silently are counted
        in `report`).

        An entry dated long ago that shows up as new (a blog that moved and changed its
        guids, a feed glitch) goes to the archive without being announced, and so do those
        beyond MAX_ANNOUNCE_PER_POLL (a feed of 3,000 new items must not flood a channel):
        they are counted, and `/feed list` shows the count.
        """
        cutoff = time.time() - MAX_ANNOUNCE_AGE
        unique = list({e.key: e for e in entries}.values())
        if unique:  # a check knows only the newest keys: older ones shown again are not new
            stored = await self.store.stored_keys(feed_id, [e.key for e in unique])
            unique = [e for e in unique if e.key not in stored]
        unique = self._within_quota(feed_id, unique)
        recent = [e for e in unique if e.published_at is None or e.published_at >= cutoff]
        old = [e for e in unique if e.published_at is not None and e.published_at < cutoff]
        # newest first; an undated entry counts as just published
        recent.sort(key=lambda e: e.published_at or float("inf"), reverse=True)
        recent, beyond = recent[:MAX_ANNOUNCE_PER_POLL], recent[MAX_ANNOUNCE_PER_POLL:]
        if old:
            await self.store.store_entries(feed_id, old, announce=False)
        if beyond:
            # too many for a channel post by post, not for a digest: its period lists them
            silenced = await self.store.store_entries(
                feed_id, beyond, announce=True, digests_only=True
            )
            if silenced:
                log.info(
                    "feed %s: %d new posts archived without announcement (over %d per check)",
                    feed_id,
                    len(silenced),
                    MAX_ANNOUNCE_PER_POLL,
                )
                await self.store.count_archived_silently(feed_id, len(silenced))
                if report is not None:
                    report.archived_silently += len(silenced)
        revisions = None
        if self.edit_window > 0:  # what the announcements show, to tell edits later
            hashes = item_hashes or {}
            revisions = {e.key: (shown_hash(e), hashes.get(e.key)) for e in recent}
        stored = await self.store.store_entries(feed_id, recent, announce=True, revisions=revisions)
        if stored:
            self.on_owed()
        return len(stored)

    def _within_quota(self, feed_id: int, entries: list[Entry]) -> list[Entry]:
        """The newest of the entries that fit in the feed's quota for the day; the others
        stay unknown, so a check after the day is over stores those still in the feed."""
        now = time.time()
        share = self._day_shares.get(feed_id)
        if share is None or now - share.since >= 86400:
            share = self._day_shares[feed_id] = _DayShare(since=now)
        admitted = []
        for entry in sorted(entries, key=lambda e: e.published_at or float("inf"), reverse=True):
            html = len(entry.summary_html) + len(entry.content_html)
            if share.posts >= self.max_new_per_day or share.html + html > self.max_new_html_per_day:
                break
            share.posts += 1
            share.html += html
            admitted.append(entry)
        if len(admitted) < len(entries) and not share.warned:
            share.warned = True
            log.warning(
                "feed %s: new posts left out of the archive until %s (over its quota of %d "
                "posts or %d MB a day)",
                feed_id,
                time.strftime("%H:%M UTC", time.gmtime(share.since + 86400)),
                self.max_new_per_day,
                self.max_new_html_per_day >> 20,
            )
        return admitted

    # --- checks ---------------------------------------------------------------------

    async def start_due(
        self, *, limit: int = 2000, on_recorded: Recorded | None = None
    ) -> list[asyncio.Task]:
        """Start a check of every feed whose time has come and that is not being checked.

        Returns at once: each check runs in its own task (at most `max_concurrency` fetching
        at a time, slow sites in a few slots of their own), is recorded as soon as it
        finishes, then `on_recorded` is called with that feed's report. A feed still in
        flight is skipped, so a feed that trickles its answer holds up nothing but itself.
        """
        now = time.time()
        started: list[asyncio.Task] = []
        read: set[int] = set()  # a check that ended unrecorded is not started again meanwhile
        while len(started) < limit:
            # a slice at a time, the loop run between slices: reading and starting 1,000 due
            # feeds (after a restart) in one step held the loop 8-15 ms (bench_e2e's cold
            # phase)
            want = min(START_SLICE, limit - len(started))
            feeds = await self.store.due_feeds(now, want, skip=read.union(self._in_flight.keys()))
            read.update(feed.id for feed in feeds)
            started += self._in_flight.start(
                feeds,
                lambda feed: feed.id,
                lambda feed: self._check_and_record(feed, on_recorded),
                want,
            )
            if len(feeds) < want:
                break
        return started

    async def poll_due(self, *, limit: int = 2000) -> PollReport:
        """One whole cycle: start the due feeds and wait until every check is recorded.

        For tests and the benchmark; the bot's loop calls `start_due` and never waits.
        """
        return await whole_cycle(self.start_due, PollReport(), limit=limit)

    async def _check_and_record(self, feed: Feed, on_recorded: Recorded | None) -> None:
        report = PollReport()
        check = await self._poll_guarded(feed, report)
        try:
            await self._recorder.write(check)  # with the checks finishing meanwhile
        except StoreWriteError:
            return  # logged by the store (once a minute); the feed is simply checked again
        except Exception:
            # the feed stays due: it is simply checked again (what it stored is kept)
            log.exception("recording the check of %s failed", feed.url)
            return
        if on_recorded is not None:
            try:
                await on_recorded(report)
            except Exception:
                log.exception("handling the check of %s failed", feed.url)

    async def _record_batch(self, checks: list[FeedCheck]) -> list[None]:
        await self.store.record_checks(checks)
        return [None] * len(checks)

    async def _poll_guarded(self, feed: Feed, report: PollReport) -> FeedCheck:
        async with self._slots.hold(feed.id) as slot:
            try:
                return await self.poll_feed(feed, report, slot)
            except StoreWriteError:
                # our disk, not the blog: no failure counted, no notice; the store logged the
                # cause, and the posts are stored at the next check (the feed stays unread)
                return FeedCheck(feed.id, next_check_at=self.next_check(feed.poll_interval))
            except Exception:
                # one broken feed must never stop the others; it is retried later
                log.exception("polling %s failed unexpectedly", feed.url)
                return self._failed(feed, "internal error", None, report)

    async def poll_feed(
        self, feed: Feed, report: PollReport, slot: Slot | None = None
    ) -> FeedCheck:
        report.polled += 1
        check = FeedCheck(
            feed.id, next_check_at=self.next_check(self.interval(feed.id, feed.poll_interval))
        )
        try:
            fetch = self.fetcher.get(feed.url, etag=feed.etag, last_modified=feed.last_modified)
            result = await (slot.read(fetch) if slot is not None else fetch)
            digest = body_hash(result.body) if result.status == 200 else None
            if result.status == 304 or digest == feed.body_hash:
                report.unchanged += 1
            else:
                known = await self.store.recent_keys(feed.id, self.known_keys_read)
                watched = await self._watched(feed)
                hashes = None
                if watched is not None:
                    known.update(watched)
                    hashes = {key: r.item_hash for key, r in watched.items()}
                parsed = await asyncio.get_running_loop().run_in_executor(
                    self._parser, parse_feed, result.body, result.url, known, hashes
                )
                stored = await self.store_new(feed.id, parsed.entries, report, parsed.item_hashes)
                report.new_posts += stored
                if watched:
                    await self._revise(feed, watched, parsed, report, slot)
                check.fetched = True
                # validators dated this very second could hide a post behind a 304
                if trustworthy_validators(result.last_modified):
                    check.etag, check.last_modified = result.etag, result.last_modified
                check.body_hash = digest
                check.title, check.site_url = parsed.title or None, parsed.site_url
                check.hub_url, check.topic_url = push_links(result, parsed)
        except (FetchError, FeedParseError) as exc:
            return self._failed(feed, str(exc), exc, report)
        if feed.failing_notified:
            report.events.append(FeedEvent("recovered", feed))
        return check

    async def _watched(self, feed: Feed) -> dict[str, Revision] | None:
        """The feed's announced posts inside the edit window (None: edits are off)."""
        if self.edit_window <= 0:
            return None
        since = time.time() - self.edit_window
        if feed.last_new_post_at is None or feed.last_new_post_at < since:
            return {}  # nothing announced within the window (it counts from no later)
        return await self.store.revisions(feed.id, since)

    async def _revise(
        self,
        feed: Feed,
        watched: dict[str, Revision],
        parsed,
        report: PollReport,
        slot: Slot | None = None,
    ) -> None:
        """Owe the edits this check found: changed posts, and posts the blog removed."""
        try:
            revised, left = compare(watched, parsed)
            back = [
                r.post_id
                for key, r in watched.items()
                if (r.removed or not r.in_feed) and key in parsed.keys
            ]
            removed: list[int] = []
            if left:
                leaving = set(left)  # once: thousands may leave at once
                gone = [r for r in watched.values() if r.post_id in leaving]
                removed, undecided = await self._ask_removed(feed, gone, slot)
                settled = set(removed) | set(undecided)
                left = [post_id for post_id in left if post_id not in settled]
            if revised or left or back:
                report.edits_owed += await self.store.record_revisions(revised, left, back)
            if removed:
                report.edits_owed += await self.store.mark_removed(removed)
        except StoreWriteError:
            raise  # the check is not recorded: the same body is compared again next time
        except Exception:
            log.exception("comparing the announced posts of %s failed", feed.url)

    async def _ask_removed(
        self, feed: Feed, gone: list[Revision], slot: Slot | None
    ) -> tuple[list[int], list[int]]:
        """removed_posts, read as the feed is (a REST API that trickles moves to the slots
        for slow sites, or is given up: then every post is asked about again next time)."""
        ask = removed_posts(self.fetcher, self.rest_root, feed.site_url, gone)
        try:
            return await (slot.read(ask) if slot is not None else ask)
        except FetchError as exc:
            log.info("feed %s: removed posts not asked about: %s", feed.id, clip(str(exc), 200))
            return [], [r.post_id for r in gone]

    def _failed(
        self, feed: Feed, error: str, exc: Exception | None, report: PollReport
    ) -> FeedCheck:
        report.failed += 1
        failures = feed.failure_count + 1
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        error = clip(error, MAX_ERROR)  # its text may come from the blog (an encoding name)
        log.info("feed %s failed (%d in a row): %s", clip(feed.url, 300), failures, error)
        check = FeedCheck(
            feed.id, next_check_at=self.backoff_until(failures, retry_after), error=error
        )
        if failures >= FAILURES_BEFORE_NOTICE and not feed.failing_notified:
            check.notify_failing = True
            report.events.append(FeedEvent("failing", feed, error))
        return check

    # --- following many feeds at once (bot/bulk.py) -----------------------------------

    async def read_new(self, url: str) -> Discovered:
        """The feed at `url` read for following: one fetch through the read slots, parsed on
        the parse thread; discovery (a site's page, not a feed) only when it is not a feed."""
        try:
            async with self._slots.hold(url) as slot:
                result = await slot.read(self.fetcher.get(url))
        except FetchError as exc:
            raise SubscribeError(str(exc)) from exc
        if not looks_like_html(result.body):
            loop = asyncio.get_running_loop()
            try:
                parsed = await loop.run_in_executor(
                    self._parser, parse_feed, result.body, result.url
                )
            except FeedRefused as exc:
                raise SubscribeError(f"{result.url}: {exc}") from exc
            except FeedParseError:
                pass  # not a feed: perhaps a page that links to one
            else:
                return Discovered(feed_url=result.url, parsed=parsed, result=result)
        try:
            return await discover(self.fetcher, url)
        except (DiscoveryError, FetchError) as exc:
            raise SubscribeError(str(exc)) from exc

    def new_feed(self, found: Discovered) -> NewFeed:
        """The row of a feed read by read_new (as subscribe stores it)."""
        hub, topic = push_links(found.result, found.parsed)
        return NewFeed(
            found.feed_url,
            title=found.parsed.title or None,
            site_url=found.parsed.site_url,
            etag=found.result.etag,
            last_modified=found.result.last_modified,
            body_hash=body_hash(found.result.body),
            next_check_at=self.next_check(),
            hub_url=hub,
            topic_url=topic,
        )

    # --- pushed bodies (WebSub) -------------------------------------------------------

    def push(self, feed: Feed, body: bytes, on_recorded: Recorded | None = None) -> bool:
        """Read a body a hub pushed for `feed` as a check would read it (parse, store, then
        `on_recorded`), one check per feed at a time: pushed while the feed's check (polled
        or pushed) runs, it waits for it, replacing a body already waiting (the latest
        document holds the newest posts; a poll catches any other). False, and nothing is
        read, when MAX_PUSHES_QUEUED pushes already run or wait: the hub retries later, and
        the polls go on meanwhile."""
        waiting = self._pushed.get(feed.id)
        queued = self._push_bytes + len(body) - (len(waiting[1]) if waiting else 0)
        if queued > MAX_PUSH_BYTES_QUEUED or (
            not waiting and self._pushes_running + len(self._pushed) >= MAX_PUSHES_QUEUED
        ):
            return False
        self._push_bytes = queued
        self._pushed[feed.id] = (feed, body, on_recorded)
        if not waiting:
            self._start_pushed(feed.id)
        return True

    def _start_pushed(self, feed_id: int) -> None:
        running = self._in_flight.running(feed_id)
        if running is not None:  # after it, whatever was pushed last (unless shutting down)
            running.add_done_callback(
                lambda task: (
                    self._drop_pushed(feed_id) if task.cancelled() else self._start_pushed(feed_id)
                )
            )
            return
        feed, body, on_recorded = self._pushed.pop(feed_id)
        self._pushes_running += 1
        self._in_flight.start(
            [feed], lambda f: f.id, lambda f: self._read_pushed(f, body, on_recorded), 1
        )

    def _drop_pushed(self, feed_id: int) -> None:
        _, body, _ = self._pushed.pop(feed_id)
        self._push_bytes -= len(body)

    async def _read_pushed(self, feed: Feed, body: bytes, on_recorded: Recorded | None) -> None:
        report = PollReport()
        try:
            known = await self.store.recent_keys(feed.id, self.known_keys_read)
            parsed = await asyncio.get_running_loop().run_in_executor(
                self._parser, parse_feed, body, feed.url, known
            )
            report.new_posts += await self.store_new(feed.id, parsed.entries, report)
        except FeedParseError as exc:
            log.info("feed %s: pushed body refused: %s", feed.id, clip(str(exc), MAX_ERROR))
            return
        except StoreWriteError:
            return  # logged by the store; the next poll stores the posts
        except Exception:
            log.exception("reading a body pushed for %s failed", feed.url)
            return
        finally:
            self._pushes_running -= 1
            self._push_bytes -= len(body)
        if on_recorded is not None:
            try:
                await on_recorded(report)
            except Exception:
                log.exception("handling the push of %s failed", feed.url)
