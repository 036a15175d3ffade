"""The blog's comments on live articles: which posts are read, when, how; comments as plain data.

Knows nothing of Discord (cogs/discussion.py posts what this finds). A post is read while one
of its discussions is open and live: active (created, a new comment, a message in its thread)
within `live_days`. Each due post costs one request: the REST API where the site offers it
(every page, real parent ids: a burst of comments is never lost), else the post's comment
feed (the newest 10 only) with a conditional GET. A new post is read at its feed's own check
interval (the shortest its discussing subscriptions ask for, else POLL_INTERVAL), less often
as it ages (`check_interval`), at most `max_concurrency` at a time; a site's REST root is
looked up once and remembered (`site_ttl`), in memory and in the store.

New and edited comments are stored; the store marks the post's discussions as having comments
to mirror in the same transaction, so nothing read is lost to a crash. What a mirrored comment
shows is bot/render/comment.py's.

Comments the blog no longer shows (trashed, unapproved, spam, deleted) are marked removed in
the same transaction, which owes their messages a removal. Only what is proved is removed:
- REST: a comment missing from a whole read (every page, none skipped by COMMENT_MAX_PAGES,
  within the deadline) is asked for by its id, and removed only when WordPress answers that it
  does not exist or may not be read (a comment missed because the pages shifted under the read
  answers 200 and stays). A partial read removes nothing.
- Comment feed (the newest N comments, N being the blog's "feeds show the most recent" setting,
  unknown to Gazette): a comment is removed when the feed, read whole (not a 304), shows a
  comment older than it but not it (an approved comment newer than one shown would be
  shown), or when the feed shows no comment at all. A comment older than every comment the
  feed shows may have fallen off the page: nothing is concluded.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from .batching import BatchWriter
from .fetch import FEED_ACCEPT, FetchError, HTTPStatusError, trustworthy_validators
from .limits import (
    COMMENT_MAX_PAGES,
    COMMENT_READ_DEADLINE,
    MAX_ERROR,
    MAX_REMOVAL_CHECKS,
    MAX_SLOW_COMMENT_READS,
    SLOW_READ_AFTER,
    clip,
)
from .models import Comment, CommentCheck, CommentPollReport, CommentWatch, StoredComment
from .retry import retry_at
from .scheduling import KeyedTasks, LockTable, whole_cycle
from .slots import ReadSlots, Slot
from .store import Store, StoreWriteError
from .text import one_line
from .wordpress import (
    RestUnavailable,
    WordPressError,
    find_rest_post_id,
    find_rest_root,
    parse_comment_feed,
    rest_comment_pages,
    rest_comment_shown,
)

log = logging.getLogger(__name__)

LIVE_DAYS = 14.0
# a post published just now is read at its feed's interval (POLL_INTERVAL by default) ...
BASE_INTERVAL = 300.0
MAX_INTERVAL = 6 * 3600.0  # ... a two-week-old one every few hours
SLOWDOWN = 6 * 3600.0  # the interval grows by the feed's interval for every SLOWDOWN of age
# Each check lands between these fractions of its interval: spread (posts discussed together
# are not all read in the same second), never later than the interval.
JITTER = (0.9, 0.98)
SITE_TTL = 24 * 3600.0  # how long a site's REST root (or its absence) is trusted
# A comment feed's validators are not trusted alone: WordPress dates them with the newest
# comment's (second-granular) date, so an edit, a late approval or a comment written in the
# second of the last fetch all answer 304. Comments are read whole at least this often, and
# validators dated this very second are not kept (bot.fetch.trustworthy_validators).
FULL_EVERY = 1800.0
# reads started in one go of the event loop (a cycle of hundreds would hold it for ms)
START_AT_ONCE = 25


class NoCommentSource(WordPressError):
    """The post has neither a REST API to read comments from nor a comment feed."""


def check_interval(
    age: float, base: float = BASE_INTERVAL, cap: float = MAX_INTERVAL, slowdown: float = SLOWDOWN
) -> float:
    """Seconds until the next check of a post whose last activity is `age` seconds old."""
    return min(cap, base * (1.0 + max(age, 0.0) / slowdown))


def content_hash(comment: Comment) -> str:
    """Author and text, whitespace and markup aside: REST and the feed give the same hash."""
    text = one_line(comment.content_html)
    data = f"{comment.author.strip()}\0{text}".encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


ALL_COMMENT_TYPES = frozenset({"comment", "", "pingback", "trackback"})


def _stored(comments: list[Comment], types: frozenset[str]) -> list[StoredComment]:
    """The comments of the wanted types, each with its hash. Pure: runs in the parse thread,
    in the same hand-over as the decoding (each hash reads the comment's text from its HTML)."""
    return [StoredComment(c, content_hash(c)) for c in comments if (c.type or "") in types]


def _stored_from_feed(body: bytes, url: str, types: frozenset[str], **options):
    return _stored(parse_comment_feed(body, url, **options), types)


def _sorted_stored(comments: Iterable[StoredComment]) -> list[StoredComment]:
    """Oldest first (as `sorted_comments`)."""
    return sorted(comments, key=lambda s: (s.comment.published_at, s.comment.id))


def removed_from_feed(shown: list[Comment], stored: dict[int, float]) -> list[int]:
    """The stored comments ({id: published_at}) that a comment feed read whole proves the
    blog no longer shows. The feed holds the post's newest approved comments (pingbacks
    included), newest first: an approved comment newer than one it shows is in it; one older
    than all it shows may just have fallen off its page. An empty feed shows that the post
    has none. Dateless items prove nothing about order."""
    if not shown:
        return sorted(stored)
    ids = {c.id for c in shown}
    dated = [c.published_at for c in shown if c.published_at > 0]
    if not dated:
        return []
    oldest = min(dated)
    return sorted(cid for cid, at in stored.items() if cid not in ids and at > oldest)


def watch_site(watch: CommentWatch) -> str | None:
    """The site whose REST API serves the post's comments: the feed's site link, else the
    origin of the post's link or of its feed (None when neither is an http(s) URL)."""
    if watch.site_url:
        return watch.site_url
    for url in (watch.post_link, watch.feed_url):
        if url:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    return None


Recorded = Callable[[CommentPollReport], Awaitable[None]]  # told of each read once recorded


@dataclass(slots=True)
class _PartialRead:
    """What a REST read has gathered so far (kept when its deadline ends it)."""

    wp_id: int | None = None
    comments: dict[int, StoredComment] = field(default_factory=dict)
    whole: bool = False  # every page was read, none skipped: missing comments are candidates
    removed: list[int] = field(default_factory=list)  # proved gone so far

    def read_whole(self) -> None:
        self.whole = True


class _Counting:
    """A fetcher that counts the requests made through it."""

    def __init__(self, fetcher, report: CommentPollReport) -> None:
        self._fetcher = fetcher
        self._report = report

    async def get(self, url: str, **kwargs):
        self._report.requests += 1
        return await self._fetcher.get(url, **kwargs)


class CommentWatcher:
    def __init__(
        self,
        store: Store,
        fetcher,
        *,
        live_days: float = LIVE_DAYS,
        base_interval: float = BASE_INTERVAL,
        max_interval: float = MAX_INTERVAL,
        max_concurrency: int = 8,
        include_pingbacks: bool = False,
        site_ttl: float = SITE_TTL,
        full_every: float = FULL_EVERY,
        max_slow: int = MAX_SLOW_COMMENT_READS,
        slow_after: float = SLOW_READ_AFTER,
        read_deadline: float = COMMENT_READ_DEADLINE,
        max_pages: int = COMMENT_MAX_PAGES,
        parse_pool: Executor | None = None,  # None: asyncio's default threads
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.parse_pool = parse_pool
        self.live_seconds = live_days * 86400.0
        self.base_interval = base_interval
        self.max_interval = max_interval
        self.include_pingbacks = include_pingbacks
        self.site_ttl = site_ttl
        self.full_every = full_every
        self.read_deadline = read_deadline
        self.max_pages = max_pages
        self._slots = ReadSlots(max_concurrency, slow=max_slow, slow_after=slow_after)
        self._in_flight = KeyedTasks()  # by post id: its read
        self._recorder = BatchWriter(self._record_batch)
        self._roots: dict[str, tuple[str | None, float]] = {}
        self._root_locks = LockTable()  # one REST-root lookup per site at a time

    def live_since(self, now: float | None = None) -> float:
        """Discussions active since then are live."""
        return (time.time() if now is None else now) - self.live_seconds

    def feed_interval(self, watch: CommentWatch) -> float:
        """The check interval of the post's feed: the shortest its discussing subscriptions
        ask for (`base_interval`, POLL_INTERVAL, for those that ask for none)."""
        asked = [watch.interval] if watch.interval else []
        if watch.follows_default or not asked:
            asked.append(self.base_interval)
        return float(min(asked))

    def next_check(self, watch: CommentWatch, now: float, *, new_comments: bool = False) -> float:
        last = max(
            watch.published_at or 0.0,
            watch.activity_at or 0.0,
            now if new_comments else (watch.last_comment_at or 0.0),
        )
        interval = check_interval(now - last, self.feed_interval(watch), self.max_interval)
        return now + interval * random.uniform(*JITTER)

    def backoff(self, failures: int, retry_after: float | None = None) -> float:
        return retry_at(self.base_interval, failures - 1, self.max_interval, retry_after)

    async def next_due_at(self) -> float | None:
        """When the next post's comments are due (None: none followed); a post due already
        (being read, or beyond a round's limit) is left to the next round."""
        return await self.store.next_comment_check(time.time())

    # --- cycles ---------------------------------------------------------------------

    async def start_due(
        self, *, limit: int = 1000, on_recorded: Recorded | None = None
    ) -> list[asyncio.Task]:
        """Start reading every post whose check is due and that is not being read.

        Returns at once: each read runs in its own task (`max_concurrency` at a time, slow
        sites in a few slots of their own, each within `read_deadline`), is recorded as soon
        as it finishes, then `on_recorded` is called with that post's report. A post still
        being read is skipped, so a slow blog holds up nothing but its own posts.
        """
        watches = await self.store.due_comment_watches(time.time(), limit + len(self._in_flight))
        started: list[asyncio.Task] = []
        for at in range(0, len(watches), START_AT_ONCE):
            if at:
                await asyncio.sleep(0)  # the loop answers others between two handfuls
            started += self._in_flight.start(
                watches[at : at + START_AT_ONCE],
                lambda watch: watch.post_id,
                lambda watch: self._check_and_record(watch, on_recorded),
                limit - len(started),
            )
        return started

    async def poll_due(self, *, limit: int = 1000) -> CommentPollReport:
        """One whole cycle: start the due posts and wait until every read is recorded.

        For tests and the benchmark; the bot's loop calls `start_due` and never waits.
        """
        return await whole_cycle(self.start_due, CommentPollReport(), limit=limit)

    def cancel_checks(self) -> None:
        """Stop the reads in flight (shutting down); they are simply done again later."""
        self._in_flight.cancel_all()

    async def check_post(self, post_id: int) -> CommentPollReport:
        """Read one post's comments now (a discussion was just opened)."""
        report = CommentPollReport()
        watch = await self.store.get_comment_watch(post_id)
        if watch is not None:
            check = await self._guarded(watch, _Counting(self.fetcher, report), report)
            await self._record(check, report)
        return report

    async def _check_and_record(self, watch: CommentWatch, on_recorded: Recorded | None) -> None:
        report = CommentPollReport()
        check = await self._guarded(watch, _Counting(self.fetcher, report), report)
        try:
            await self._record(check, report)
        except StoreWriteError:
            return  # logged by the store (once a minute); the post is simply read again
        except Exception:
            # the post stays due: it is simply read again (the store diffs what it has)
            log.exception("recording the comments of post %s failed", watch.post_id)
            return
        if on_recorded is not None:
            try:
                await on_recorded(report)
            except Exception:
                log.exception("handling the comments of post %s failed", watch.post_id)

    async def _record(self, check: CommentCheck, report: CommentPollReport) -> None:
        """Write one read (with the reads finishing meanwhile, in one transaction)."""
        # no lock per post: the store diffs inside its write transaction, so two checks of
        # one post at once (a cycle and /discuss) still store each comment once
        new, edited = await self._recorder.write(check)
        if check.error is not None or check.source is None:
            return
        if not new and not edited and not check.removed:
            report.unchanged += 1
            return
        report.new_comments += len(new)
        report.edited_comments += len(edited)
        report.removed_comments += len(check.removed)
        report.changed_posts.append(check.post_id)

    async def _record_batch(self, checks: list[CommentCheck]) -> list[tuple[list[int], list[int]]]:
        results = await self.store.record_comment_checks(checks)
        return [results.get(check.post_id, ([], [])) for check in checks]

    async def _guarded(
        self, watch: CommentWatch, fetcher, report: CommentPollReport
    ) -> CommentCheck:
        try:
            async with self._slots.hold(watch_site(watch) or watch.post_id) as slot:
                return await self._check(watch, fetcher, report, slot)
        except Exception:
            # one broken post must never stop the others; it is retried later
            log.exception("reading the comments of post %s failed unexpectedly", watch.post_id)
            report.failed += 1
            return CommentCheck(
                watch.post_id, next_check_at=self.backoff(1), error="internal error"
            )

    async def _check(self, watch: CommentWatch, fetcher, report: CommentPollReport, slot: Slot):
        now = time.time()
        if watch.activity_at is None or watch.activity_at < self.live_since(now):
            report.retired += 1
            return CommentCheck(watch.post_id)  # no live discussion: not read any more
        report.checked += 1
        try:
            read = await slot.read(self._read_in_time(watch, fetcher))
        except (WordPressError, FetchError) as exc:
            report.failed += 1
            cause = exc.__cause__ if isinstance(exc, WordPressError) else exc
            retry_after = cause.retry_after if isinstance(cause, HTTPStatusError) else None
            error = clip(str(exc), MAX_ERROR)  # its text may come from the blog
            log.info(
                "comments of post %s: %s (%d in a row)",
                watch.post_id,
                error,
                watch.failure_count + 1,
            )
            return CommentCheck(
                watch.post_id,
                next_check_at=self.backoff(watch.failure_count + 1, retry_after),
                error=error,
            )
        source, comments, etag, last_modified, wp_id, removed = read
        return CommentCheck(
            watch.post_id,
            next_check_at=self.next_check(watch, now),
            source=source,
            comments=comments,  # approved and hashed in the thread that decoded them
            wp_id=wp_id if wp_id != watch.wp_id else None,
            etag=etag,
            last_modified=last_modified,
            # a post people comment on is read again soon
            sooner_if_new=self.next_check(watch, now, new_comments=True),
            removed=removed,
        )

    def _types(self) -> frozenset[str]:
        """The comment types mirrored ("" is a plain comment from a feed)."""
        pings = {"pingback", "trackback"} if self.include_pingbacks else set()
        return frozenset({"comment", ""} | pings)

    # --- reading --------------------------------------------------------------------

    async def _read_in_time(self, watch: CommentWatch, fetcher):
        """`_read` within `read_deadline`; the REST pages read by then are kept."""
        partial = _PartialRead()
        try:
            async with asyncio.timeout(self.read_deadline):
                return await self._read(watch, fetcher, partial)
        except TimeoutError:
            if not partial.comments:
                raise WordPressError(
                    f"reading the comments took longer than {self.read_deadline:g} s"
                ) from None
            log.info(
                "comments of post %s: read deadline (%g s) reached; keeping the %d comments read",
                watch.post_id,
                self.read_deadline,
                len(partial.comments),
            )
            # removals proved before the deadline stand; the rest wait for a later read
            comments = _sorted_stored(partial.comments.values())
            return "rest", comments, None, None, partial.wp_id, partial.removed

    async def _read(self, watch: CommentWatch, fetcher, partial: _PartialRead):
        """(source, stored comments or None when unchanged, etag, last_modified, wp_id, ids
        of the stored comments proved removed).

        REST pages are collected in `partial` as they arrive (kept if the deadline ends it).
        """
        site = watch_site(watch)
        root = await self.rest_root(site, fetcher) if site else None
        problem: WordPressError | None = None
        if root is not None:
            wp_id = watch.wp_id
            try:
                if wp_id is None and watch.post_link:
                    wp_id = await find_rest_post_id(fetcher, root, watch.post_link)
                if wp_id is not None:
                    partial.wp_id = wp_id
                    pages = rest_comment_pages(
                        fetcher,
                        root,
                        wp_id,
                        max_pages=self.max_pages,
                        pool=self.parse_pool,
                        then=functools.partial(_stored, types=self._types()),
                        on_complete=partial.read_whole,
                    )
                    async for page in pages:
                        for stored in page:  # shifted across pages meanwhile: once only
                            partial.comments[stored.comment.id] = stored
                    if partial.whole:
                        await self._prove_removed(watch.post_id, fetcher, root, partial)
                    comments = _sorted_stored(partial.comments.values())
                    return "rest", comments, None, None, wp_id, partial.removed
                problem = NoCommentSource("the REST API does not know this post")
            except RestUnavailable as exc:
                # switched off since we looked: the comment feed from now on
                log.info("REST API of %s unavailable (%s); using comment feeds", site, exc)
                await self._remember_root(site, None)
                problem = exc
            except WordPressError as exc:
                problem = exc
        if watch.comments_feed:
            if problem is not None:
                log.info("comments of post %s from the feed: %s", watch.post_id, problem)
            use_validators = (
                watch.source == "feed"
                and watch.full_read_at is not None
                and time.time() - watch.full_read_at < self.full_every
            )
            try:
                result = await fetcher.get(
                    watch.comments_feed,
                    etag=watch.etag if use_validators else None,
                    last_modified=watch.last_modified if use_validators else None,
                    accept=FEED_ACCEPT,
                )
            except FetchError as exc:
                raise WordPressError(f"comment feed: {exc}") from exc
            if result.status == 304:
                return "feed", None, None, None, None, []
            etag, last_modified = result.etag, result.last_modified
            if not trustworthy_validators(last_modified):
                etag = last_modified = None
            shown = await asyncio.get_running_loop().run_in_executor(
                self.parse_pool,
                functools.partial(
                    _stored_from_feed,
                    result.body,
                    result.url,
                    ALL_COMMENT_TYPES,  # all the page holds, to tell what it proves
                    post_wp_id=watch.wp_id,
                    include_pingbacks=True,
                ),
            )
            stored = await self.store.shown_comment_dates(watch.post_id)
            removed = removed_from_feed([s.comment for s in shown], stored)
            types = self._types()
            comments = [s for s in shown if (s.comment.type or "") in types]
            return "feed", comments, etag, last_modified, None, removed
        if problem is not None:
            raise problem
        raise NoCommentSource("the blog offers no REST API and no comment feed for this post")

    async def _prove_removed(self, post_id: int, fetcher, root: str, partial: _PartialRead):
        """Ask for each stored comment a whole REST read missed, by its id (at most
        MAX_REMOVAL_CHECKS a read); those WordPress says it does not show go to
        `partial.removed`."""
        stored = await self.store.shown_comment_dates(post_id)
        missing = sorted((c for c in stored if c not in partial.comments), reverse=True)
        if len(missing) > MAX_REMOVAL_CHECKS:
            log.info(
                "comments of post %s: %d missing from the read, %d asked for now",
                post_id,
                len(missing),
                MAX_REMOVAL_CHECKS,
            )
        for comment_id in missing[:MAX_REMOVAL_CHECKS]:
            shown = await rest_comment_shown(fetcher, root, comment_id, partial.wp_id)
            if shown is False:
                partial.removed.append(comment_id)
            elif shown is None:
                return  # the blog is not answering clearly: the rest wait for a later read
        if partial.removed:
            log.info("comments of post %s: removed on the blog: %s", post_id, partial.removed)

    async def rest_root(self, site: str, fetcher=None) -> str | None:
        """The site's REST root, or None: looked up once per `site_ttl`, shared by its posts."""
        now = time.time()
        cached = self._roots.get(site)
        if cached and now - cached[1] < self.site_ttl:
            return cached[0]
        async with self._root_locks(site):
            cached = self._roots.get(site)
            if cached and now - cached[1] < self.site_ttl:
                return cached[0]
            stored = await self.store.get_comment_site(site)
            if stored and now - stored[1] < self.site_ttl:
                self._roots[site] = stored
                return stored[0]
            try:
                root = await find_rest_root(fetcher or self.fetcher, site)
            except (WordPressError, FetchError) as exc:
                log.info("REST discovery for %s failed: %s", site, exc)
                root = None
            await self._remember_root(site, root)
            return root

    async def _remember_root(self, site: str, root: str | None) -> None:
        self._roots[site] = (root, time.time())
        await self.store.set_comment_site(site, root)


__all__ = [
    "CommentPollReport",
    "CommentWatcher",
    "NoCommentSource",
    "check_interval",
    "content_hash",
]
