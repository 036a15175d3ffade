"""A digest: one period's posts as a list of links within Discord's limits (pure: the cog
builds the discord.Embed).

The list is one embed's description (4,096 characters): a line per post, oldest first, its
title as a masked link (escaped: a title cannot break out of the link or ping anyone) and its
author. Posts that do not fit are counted in a last line, "…and N more", which points to
`/archive`: one message per digest, however many posts the period had. The title (256) and
the footer stay short, so the embed is far within the 6,000 characters of a message.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.digests import local_date_text, local_time_text
from bot.models import Post

from .markdown import (
    DESCRIPTION_LIMIT,
    TITLE_LIMIT,
    cut,
    inline_markdown,
    inline_plain,
    thread_name,
    web_url,
)

LINE_TITLE = 200  # characters of a post's title in its line (escapes included)
LINE_AUTHOR = 60
PLAIN_LIMIT = 2000  # the plain version: a message's content
#: posts a digest can list at most (a line is 3 characters or more, plus its newline): the
#: others are only counted, so they need not be read nor rendered
MAX_LINES = (DESCRIPTION_LIMIT + 1) // 4


@dataclass(slots=True)
class RenderedDigest:
    title: str  # the embed's title (markdown escaped)
    lines: list[str]  # the description's lines, "…and N more" included
    footer: str  # plain
    thread_name: str  # of its discussion thread, or its forum post
    shown: int  # posts listed
    more: int  # posts only counted
    plain: str  # the whole as one message's text, for when Discord refuses the embed

    @property
    def description(self) -> str:
        return "\n".join(self.lines)


def post_line(post: Post, *, preview: bool = True) -> str:
    """• [title](link) — author; without a web link the title alone. Without `preview` the
    link is written <link>: in a message's text Discord then shows no preview of it."""
    title = inline_markdown(post.title, LINE_TITLE, default="(untitled)")
    link = web_url(post.link)
    target = link if preview else f"<{link}>"
    line = f"• [{title}]({target})" if link else f"• {title}"
    author = inline_markdown(post.author, LINE_AUTHOR)
    return f"{line} — {author}" if author else line


def more_line(count: int) -> str:
    noun = "post" if count == 1 else "posts"
    return f"…and {count} more {noun} (find them with `/archive latest`)"


def lines_within(lines: list[str], limit: int, total: int | None = None) -> tuple[list[str], int]:
    """As many whole lines as fit in `limit` with room for the "…and N more" line after them;
    returns them and how many were left out (of `total`: `lines` may be its first ones)."""
    total = len(lines) if total is None else total
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        left = total - index - 1
        room = limit - used - len(line) - (1 if kept else 0)
        if room < (len(more_line(left)) + 1 if left else 0):
            break
        kept.append(line)
        used += len(line) + (1 if len(kept) > 1 else 0)
    return kept, total - len(kept)


def digest_thread_name(feed_title: str | None, feed_url: str, period_end: float, zone: str) -> str:
    """The name of the digest's discussion thread, or of its forum post."""
    return thread_name(
        f"Digest {local_date_text(period_end, zone)}: "
        + inline_plain(feed_title or feed_url, 80, "a feed")
    )


def render_digest(
    posts: list[Post],
    feed_title: str | None,
    feed_url: str,
    period_end: float,
    zone: str,
    total: int | None = None,
) -> RenderedDigest:
    """The digest of `posts` (oldest first), the period ending at `period_end`; `total`: how
    many posts the period has when `posts` are only its first MAX_LINES or more."""
    count = len(posts) if total is None else total
    posts = posts[:MAX_LINES]
    feed = inline_markdown(feed_title, 150) or inline_markdown(feed_url, 150, "a feed")
    noun = "new post" if count == 1 else "new posts"
    title = cut(f"{feed}: {count} {noun}", TITLE_LIMIT)
    all_lines = [post_line(post) for post in posts]
    lines, more = lines_within(all_lines, DESCRIPTION_LIMIT, count)
    if more:
        lines.append(more_line(more))
    footer = f"Digest until {local_time_text(period_end, zone)}"
    name = digest_thread_name(feed_title, feed_url, period_end, zone)
    plain_lines, plain_more = lines_within(
        [post_line(post, preview=False) for post in posts],
        PLAIN_LIMIT - len(title) - len(footer) - 10,
        count,
    )
    if plain_more:
        plain_lines.append(more_line(plain_more))
    plain = cut("\n".join([f"**{title}**", *plain_lines, f"-# {footer}"]), PLAIN_LIMIT)
    return RenderedDigest(title, lines, footer, name, count - more, more, plain)
