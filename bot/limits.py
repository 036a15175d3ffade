"""Budgets for everything a blog can send us: one place, so every path cuts at the same size.

A blog is untrusted (any admin of any server can point Gazette at any URL); each cap below is
far above what a real WordPress serves and far below what would hurt other servers.
"""

from __future__ import annotations

import hashlib
import re

from bot.models import Comment, Entry
from bot.text import html_to_text, replace_lone_surrogates

# Stored fields of a post or comment, in characters (cut, never refused)
MAX_TITLE = 1_000
MAX_AUTHOR = 200
MAX_ENTRY_KEY = 2_048  # guid, link or hash: the identity of an entry within its feed
MAX_URL = 2_048
MAX_CATEGORIES = 50  # categories or tags per post
MAX_CATEGORY = 100
MAX_POST_HTML = 512 * 1024  # summary and content, each
MAX_COMMENT_HTML = 64 * 1024
MAX_ERROR = 500  # an error's text, which may quote the blog (stored, logged)

# What one feed document may make the parser do (refused beyond, with the reason)
MAX_FEED_ELEMENTS = 100_000  # a 5 MB WordPress feed of 100 long posts has a few thousand
MAX_FEED_TAG = 64 * 1024  # bytes of one start tag with its attributes (a real one: < 1 KB)
MAX_LENIENT_TAGS = 10_000  # "<" in broken XML, read by feedparser's slow lenient parser

# One feed's share of a poll
MAX_ANNOUNCE_PER_POLL = 5  # newer posts beyond this are archived silently (and counted)
MAX_DISCOVERY_CANDIDATES = 5  # feed URLs tried for one /feed add

# What one feed's checks may add to the archive in a day (a feed whose guids change at every
# request would otherwise store its whole body at each check: 1.4 GB a day at a 5 MB feed
# checked every 5 minutes). A big news site adds a few hundred posts, a few MB, a day; a
# feed that shows 3,000 posts at once for the first time still fits.
# Entries over the quota are left in the feed, unknown: a later check stores them.
NEW_POSTS_PER_DAY = 5_000
NEW_HTML_PER_DAY = 16 * 1024 * 1024  # characters of summary and content
# Keys of a feed's newest posts read at each check to tell new entries from known ones (a
# feed shows tens; its whole history would be read into memory at every check)
KNOWN_KEYS_READ = 2_000

# One article's comment read
COMMENT_READ_DEADLINE = 60.0  # seconds for the whole read, all pages included
COMMENT_MAX_PAGES = 20  # REST pages of 100 comments
# Comments missing from a whole REST read that are asked for one by one (are they removed?)
# in one read; more wait for the next reads (a blog emptied of spam, say)
MAX_REMOVAL_CHECKS = 20

# Whole-history import of one feed (defaults of the BACKFILL_MAX_* settings)
BACKFILL_MAX_POSTS = 50_000
BACKFILL_MAX_PAGES = 1_000
BACKFILL_MAX_MB = 500

# Delivery to Discord
MAX_REFUSALS = 3  # times Discord may refuse an item, plain version included, before it is skipped
CLOCK_SKEW = 600.0  # seconds our clock may differ from Discord's, when matching by time
NONCE_WINDOW = 60.0  # seconds Discord surely dedups a resend by its nonce ("a few minutes")
# Checks servers force on a shared feed ("check now" after /feed edit), whoever asks
FORCED_CHECK_GAP = 60.0  # seconds between two forced checks of one feed

# WebSub (push): what a hub may make us do
MAX_PUSH_BYTES = 2 * 1024 * 1024  # one delivery's body (a WordPress feed of 10 long posts: ~200 KB)
MAX_PUSHES_QUEUED = 16  # pushed bodies being read or waiting, all feeds together (beyond: 429)
MAX_PUSH_BYTES_QUEUED = 8 * 1024 * 1024  # of those bodies, all together (beyond: 429)
MAX_PUSH_READS = 8  # delivery bodies being received at once (beyond: 503)
PUSH_READ_DEADLINE = 10.0  # seconds to receive one delivery's body
MAX_CHALLENGE = 1024  # characters of a hub.challenge echoed back
MAX_LISTENER_CONNECTIONS = 128  # open connections to the WebSub listener (beyond: closed)
LISTENER_IDLE = 15.0  # seconds a listener connection may sit without a whole request
PUSH_SAFETY_NET = 1800.0  # seconds: a pushed feed is still polled, 4x its interval, at least this

# Reads of untrusted sites (feed checks, comment reads): a read still running after
# SLOW_READ_AFTER seconds moves to a small pool of slots for slow sites, so slow sites
# (a slowloris) queue among themselves and never take the slots of the others
SLOW_READ_AFTER = 10.0
MAX_SLOW_FEED_CHECKS = 4  # of the poller's slots
MAX_SLOW_COMMENT_READS = 2  # of the comment watcher's slots

# OPML subscription lists (`/feed import`, `python -m bot opml import`)
MAX_OPML_BYTES = 1024 * 1024  # a list of 2,000 feeds is about 300 KB
MAX_OPML_OUTLINES = 2_000  # outlines of any kind (categories included)
BULK_FETCHES = 16  # first polls of an import running at once
BULK_FETCHES_PER_HOST = 4  # of which to any one host (as the session's connections per host)
BULK_BACKFILLS = 2  # history imports of an import's feeds running at once, afterwards

# Replies back to the blog (members' messages posted as comments)
MAX_REPLY_CHARS = 4_000  # a Discord message (with Nitro) at most; /reply takes 2,000
MAX_REPLY_BYTES = 65_525  # WordPress's comment_content column (bytes of the HTML sent)
MAX_REPLY_NAME = 80  # characters of the member's name shown as the comment's author
REPLY_TIMEOUT = 10.0  # seconds a REST request to the blog may take, whole
MAX_REPLY_ANSWER = 1024 * 1024  # bytes of a REST answer about one comment or user
REPLY_RETRY_AFTER = 30.0  # seconds before a send whose outcome is unknown may be tried again

# --------------------------------------------------------------------------- applying the caps


def clip(text: str, limit: int) -> str:
    """text cut to at most limit characters; lone surrogates (JSON can carry them, SQLite
    cannot store them) become U+FFFD, so a cut never leaves half a pair."""
    if len(text) > limit:
        text = text[:limit]
    return replace_lone_surrogates(text)


def capped_key(key: str) -> str:
    """An entry key within MAX_ENTRY_KEY: a longer one becomes the hash of all of it, so two
    long keys stay apart and the same key hashes the same way at every poll."""
    key = replace_lone_surrogates(key)
    if len(key) <= MAX_ENTRY_KEY:
        return key
    return "sha1:" + hashlib.sha1(key.encode("utf-8")).hexdigest()


def capped_url(url: str | None) -> str | None:
    """A URL within MAX_URL, else None: a cut URL would lead somewhere else."""
    if not url or len(url) > MAX_URL:
        return None
    return replace_lone_surrogates(url)


def _terms(terms: list[str]) -> list[str]:
    return [clip(t, MAX_CATEGORY) for t in terms[:MAX_CATEGORIES]]


def row_id(value: int | None) -> int | None:
    """An id SQLite can store (a positive 64-bit integer), else None."""
    return value if value is not None and 0 < value < 2**63 else None


# An attribute value longer than this (a base64 image, a hostile blob) is emptied before HTML
# is cut: nothing of ours uses it, and cutting inside it would lose the rest of the post.
MAX_HTML_ATTRIBUTE = 2_048
_ATTRIBUTE_VALUE = re.compile(r"""\s[^\s=<>"'/]+\s*=\s*(["'])""")


def clip_html(html: str, limit: int) -> str:
    """HTML within limit characters, its oversized attribute values emptied first.

    Looked for only as far as the cut: a 5 MB body costs no more than the part kept (one
    regex over all of it held the GIL, and so the event loop, for a fifth of a second).
    """
    if len(html) <= limit:
        return clip(html, limit)
    parts: list[str] = []
    kept = pos = 0
    while kept < limit:
        m = _ATTRIBUTE_VALUE.search(html, pos, pos + (limit - kept))
        if m is None:
            break
        value = m.end()
        close = html.find(m.group(1), value)
        close = len(html) if close == -1 else close
        keep_to = value if close - value >= MAX_HTML_ATTRIBUTE else close
        parts.append(html[pos:keep_to])
        kept += keep_to - pos
        pos = close  # the closing quote, if any, is kept
    parts.append(html[pos : pos + max(limit - kept, 0)])
    return clip("".join(parts), limit)


def clamp_entry(entry: Entry) -> Entry:
    """The entry with every field within its cap (in place; returned for convenience), and
    its plain text for the search index: every parser calls this where it parses (a thread
    or a process), so a feed of 50,000 items is not converted on the event loop."""
    entry.key = capped_key(entry.key)
    entry.title = clip(entry.title, MAX_TITLE)
    entry.link = capped_url(entry.link)
    entry.author = clip(entry.author, MAX_AUTHOR) if entry.author else entry.author
    entry.categories = _terms(entry.categories)
    entry.tags = _terms(entry.tags)
    entry.summary_html = clip_html(entry.summary_html, MAX_POST_HTML)
    entry.content_html = clip_html(entry.content_html, MAX_POST_HTML)
    entry.image_url = capped_url(entry.image_url)
    entry.comments_feed = capped_url(entry.comments_feed)
    entry.wp_id = row_id(entry.wp_id)
    entry.content_text = html_to_text(entry.content_html or entry.summary_html)
    return entry


def clamp_comment(comment: Comment) -> Comment | None:
    """The comment with every field within its cap (in place), or None when its id cannot be
    stored."""
    if row_id(comment.id) is None:
        return None
    comment.post_wp_id = row_id(comment.post_wp_id)
    comment.parent_id = row_id(comment.parent_id)
    comment.author = clip(comment.author, MAX_AUTHOR)
    comment.author_url = capped_url(comment.author_url)
    comment.avatar_url = capped_url(comment.avatar_url)
    comment.content_html = clip_html(comment.content_html, MAX_COMMENT_HTML)
    comment.link = capped_url(comment.link) or ""
    comment.type = clip(comment.type, MAX_CATEGORY)
    return comment
