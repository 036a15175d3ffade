"""A post -> its announcement: title, excerpt, author, categories, each cut, escaped and
mention-proof within Discord's embed limits (pure: the cog builds the discord.Embed)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.models import Entry, Post
from bot.text import html_to_text

from .markdown import (
    AUTHOR_LIMIT,
    FIELD_LIMIT,
    TITLE_LIMIT,
    cut,
    html_to_markdown,
    inline_markdown,
    inline_plain,
    shown_timestamp,
    shows_something,
    web_url,
)

EXCERPT_LIMIT = 700

_WP_APPEARED = re.compile(
    r"(?:<p>)?\s*The post\s+<a\b[^>]*>.*?</a>\s+appeared first on\s+<a\b[^>]*>.*?</a>\.?\s*"
    r"(?:</p>)?\s*$",
    re.I | re.S,
)
_WP_MORE_LINK = re.compile(
    r"(?:&hellip;|&#8230;|…|\.\.\.)?\s*<a\b[^>]*>\s*"
    r"(?:continue reading|read more|read the rest)\b.*?</a>\s*(?:</p>)?\s*$",
    re.I | re.S,
)
_WP_ELLIPSIS = re.compile(
    r"\s*\[\s*(?:&hellip;|&#8230;|&#x2026;|…|\.\.\.)\s*\]\s*(</p>)?\s*$", re.I
)
_MORE_HINT = re.compile(r"continue reading|read more|read the rest")
_ELLIPSIS_HINT = re.compile(r"\]\s*(?:</p>)?\s*$")
_BLOCK_END = re.compile(r"</(?:p|div|li|h[1-6]|blockquote|figure|ul|ol|pre|table)>", re.I)


_TAIL_WINDOW = 2000  # the tails are at the very end; longer windows cost quadratic time


def _sub_tail(pattern: re.Pattern, repl, html: str) -> str:
    """pattern (anchored at the end) replaced in the last _TAIL_WINDOW characters only: its
    lazy and whitespace parts would backtrack over the whole of a long post."""
    start = max(0, len(html) - _TAIL_WINDOW)
    tail = html[start:]
    new = pattern.sub(repl, tail)
    return html if new == tail else html[:start] + new


def _strip_wp_tails(html: str) -> tuple[str, bool]:
    """Drop 'The post X appeared first on Y', 'Continue reading' and '[…]'; True if elided."""
    html = html.strip()
    if "appeared first on" in html[-_TAIL_WINDOW:]:
        html = _sub_tail(_WP_APPEARED, "", html)
    tail = html[-400:].lower()
    elided = False
    for pattern, hint in ((_WP_MORE_LINK, _MORE_HINT), (_WP_ELLIPSIS, _ELLIPSIS_HINT)):
        if hint.search(tail):  # cheap test first
            new = _sub_tail(pattern, lambda m: m.group(m.lastindex) if m.lastindex else "", html)
            if new != html:
                html, elided = new.rstrip(), True
                tail = html[-400:].lower()
    return html, elided


def _excerpt(html: str, base: str | None, limit: int) -> str:
    html, elided = _strip_wp_tails(html)
    # long bodies: convert only a prefix (ending after a block) large enough for the excerpt
    size = limit * 3
    while True:
        if len(html) > size * 1.5 and (m := _BLOCK_END.search(html, size)):
            md = html_to_markdown(html[: m.end()], base)
            if len(md) <= limit:
                size *= 3
                continue
            elided = True
        else:
            md = html_to_markdown(html, base)
        break
    if len(md) > limit:
        return cut(md, limit)
    if elided and md and not md.endswith(("…", "...")):
        tail = " …" if md[-1] in ".!?:;" else "…"
        return md + tail if len(md) + len(tail) <= limit else cut(md, limit)
    return md


@dataclass(slots=True)
class Announcement:
    """What an announcement shows, within Discord's embed limits.

    title and description are markdown (escaped); author and feed_title are plain text for the
    embed's author/footer slots (which do not render markdown), mentions neutralised everywhere.
    """

    title: str
    url: str | None
    description: str
    author: str | None = None
    timestamp: float | None = None
    image_url: str | None = None
    categories: list[str] = field(default_factory=list)
    feed_title: str | None = None

    @property
    def categories_text(self) -> str:
        """The categories for one embed field (≤ 1024 characters)."""
        return ", ".join(self.categories)


def _plain_or_none(text: str | None, limit: int) -> str | None:
    return inline_plain(text, limit) or None


def render_announcement(post: Post | Entry, feed_title: str | None) -> Announcement:
    """The announcement for one post: cut, escaped and mention-proof, never over a limit."""
    link = web_url(post.link)
    description = ""
    for source in (post.summary_html, post.content_html):
        if source and source.strip():
            description = _excerpt(source, link, EXCERPT_LIMIT)
            if description:
                break
    title = post.title or ""
    if not shows_something(title):  # the first words of an untitled post stand in
        source = _strip_wp_tails(post.summary_html or post.content_html or "")[0]
        words = html_to_text(source).split("\n")[0]
        title = " ".join(words.split()[:12])
    categories: list[str] = []
    used = 0
    for cat in post.categories:
        text = inline_markdown(cat, 100)
        if not text or text in categories or text.lower() == "uncategorized":
            continue
        if used + len(text) + 2 > FIELD_LIMIT:
            break
        categories.append(text)
        used += len(text) + 2
    return Announcement(
        title=inline_markdown(title, TITLE_LIMIT, default="Untitled post"),
        url=link,
        description=description,
        author=_plain_or_none(post.author, AUTHOR_LIMIT),
        timestamp=shown_timestamp(post.published_at or post.updated_at),
        image_url=web_url(post.image_url),
        categories=categories,
        feed_title=_plain_or_none(feed_title, AUTHOR_LIMIT),
    )


REMOVED_NOTE = "*This article was removed from the blog.*"
REMOVED_MARK = "[Removed]"


def render_removed(post: Post, feed_title: str | None) -> Announcement:
    """The announcement of a post the blog removed: its title and author stay, the excerpt,
    image and link (now dead) give way to a note saying so."""
    shown = render_announcement(post, feed_title)
    shown.title = cut(f"{REMOVED_MARK} {shown.title}", TITLE_LIMIT)
    shown.url = None
    shown.description = REMOVED_NOTE
    shown.image_url = None
    return shown


#: Characters of a post's HTML read for a one-line excerpt (plenty for a few hundred shown)
_PLAIN_EXCERPT_SOURCE = 20_000


def plain_excerpt(post: Post | Entry, limit: int) -> str:
    """The post's first words on one line, escaped and mention-proof, within `limit`: the
    excerpt of a compact announcement and of a message template."""
    for source in (post.summary_html, post.content_html):
        if source and source.strip():
            html = _strip_wp_tails(source)[0][:_PLAIN_EXCERPT_SOURCE]
            # twice the limit is more than is shown (escaping only lengthens): the rest
            # need not be escaped only to be cut
            text = inline_markdown(html_to_text(html)[: 2 * limit], limit)
            if text:
                return text
    return ""
