"""Announcements follow the article: what a check changes in posts already announced.

A post stays watched for EDIT_WINDOW_DAYS after publication. Each check of its feed that
reads a new body compares, for the watched posts only, the bytes of each item with those last
read (bot.feeds computes the hash; unchanged items are not even parsed), then the fields an
announcement shows (`shown_hash`) for those whose bytes changed. A difference is one edit
owed per announcement, stored with the new content before any request (bot/store/edits.py),
made by cogs/announcer/_edits.py. A watched post that left the feed is asked about over the
site's REST API, when it has one (a few per check): removed from the blog, its announcements
say so. Without REST nothing is done (posts leave a feed as newer ones come). Knows nothing of
Discord.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

from .models import Entry, ParsedFeed, Post, Revised, Revision
from .wordpress import WordPressError, rest_post_status

log = logging.getLogger(__name__)

#: Watched posts that left the feed asked about over REST per check (one request each)
MAX_REMOVAL_CHECKS = 5
#: WordPress's own answers that say the post is no longer shown on the blog: deleted (404
#: rest_post_invalid_id), trashed, drafted or private (401/403 rest_forbidden). Anything
#: else (a plain 404 page, another API) proves nothing: the post is not marked removed.
_REMOVED = {(404, "rest_post_invalid_id"), (410, "rest_post_invalid_id")} | {
    (status, code) for status in (401, 403) for code in ("rest_forbidden", "rest_forbidden_context")
}

RestRoot = Callable[[str], Awaitable[str | None]]  # a site -> its REST root, or None


def shown_hash(post: Entry | Post) -> str:
    """What an announcement shows that a blog may edit: title, excerpt (its source: the
    summary, else the content, as bot.render.announcement reads them), image, categories."""
    excerpt = post.summary_html if post.summary_html.strip() else post.content_html
    digest = hashlib.blake2b(digest_size=16)
    for part in (post.title, excerpt, post.image_url or "", "\x1f".join(post.categories)):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def compare(watched: dict[str, Revision], parsed: ParsedFeed) -> tuple[list[Revised], list[int]]:
    """(what changed among the watched posts the feed still shows, the ids of those it no
    longer shows that it showed before)."""
    revised: list[Revised] = []
    seen: set[str] = set()
    for entry in parsed.changed:
        revision = watched.get(entry.key)
        if revision is None or entry.key in seen:
            continue  # one revision per post per check, whatever the feed repeats
        seen.add(entry.key)
        item_hash = parsed.item_hashes.get(entry.key)
        shown = shown_hash(entry)
        if shown != revision.shown_hash:
            revised.append(Revised(revision.post_id, entry, shown, item_hash))
        elif item_hash is not None and item_hash != revision.item_hash:
            revised.append(Revised(revision.post_id, None, None, item_hash))
    for key, item_hash in parsed.item_hashes.items():
        revision = watched.get(key)
        if revision is not None and key not in seen and item_hash != revision.item_hash:
            revised.append(Revised(revision.post_id, None, None, item_hash))  # first read
    left = [
        r.post_id
        for key, r in watched.items()
        if r.in_feed and not r.removed and key not in parsed.keys
    ]
    return revised, left


def post_site(feed_site: str | None, post: Revision) -> str | None:
    """Where to ask about a post: its feed's site, else the origin of its link."""
    if feed_site:
        return feed_site
    parts = urlsplit(post.link or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    return None


async def removed_posts(
    fetcher, rest_root: RestRoot | None, feed_site: str | None, gone: list[Revision]
) -> tuple[list[int], list[int]]:
    """(removed, undecided) of the watched posts that left the feed: removed, those the blog
    says it removed, asked over its REST API; undecided, those to ask again at the next
    check (beyond MAX_REMOVAL_CHECKS, or REST could not answer: then no more are asked). A
    post without a WordPress id, or of a site without REST, is not asked: leaving a feed is
    no removal."""
    removed: list[int] = []
    undecided: list[int] = []
    askable = [p for p in gone if p.wp_id is not None] if rest_root is not None else []
    undecided += [p.post_id for p in askable[MAX_REMOVAL_CHECKS:]]
    asking = askable[:MAX_REMOVAL_CHECKS]
    for n, post in enumerate(asking):
        site = post_site(feed_site, post)
        root = await rest_root(site) if site else None
        if root is None:
            continue
        try:
            status = await rest_post_status(fetcher, root, post.wp_id)
        except WordPressError as exc:
            if (exc.status, exc.code) in _REMOVED:
                log.info("post %s was removed from the blog (%s)", post.post_id, exc)
                removed.append(post.post_id)
            elif exc.status is None or exc.status >= 500 or exc.status == 429:
                log.info("cannot tell yet whether post %s was removed: %s", post.post_id, exc)
                # asked again at the next check; the others too, without asking a site
                # that cannot answer now once per post
                undecided += [p.post_id for p in asking[n:]]
                break
            else:
                log.info("post %s left the feed; its blog does not say more: %s", post.post_id, exc)
            continue
        if status != "publish":
            log.info("post %s was removed from the blog (status %s)", post.post_id, status)
            removed.append(post.post_id)
    return removed, undecided
