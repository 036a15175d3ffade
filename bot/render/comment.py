"""A blog comment -> what its mirrored message shows: reply line, text, link and time, each
escaped and mention-proof within Discord's limits, and a name Discord accepts for a webhook."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import Comment
from bot.text import html_to_text

from .markdown import (
    AUTHOR_LIMIT,
    DESCRIPTION_LIMIT,
    cut,
    html_to_markdown,
    inline_markdown,
    inline_plain,
    safe_url,
    shown_timestamp,
    web_url,
)

CONTENT_LIMIT = 2000
USERNAME_LIMIT = 80
REPLY_LINE_LIMIT = 120
REPLY_AUTHOR_LIMIT = 80
LINK_IN_TEXT_LIMIT = 400  # a longer link is not shown in a message (it would crowd the text)

_COMMENT_FRAGMENT = re.compile(r"#comment-\d+$")


def shown_link(url: str | None) -> str | None:
    """The link a mirrored comment shows on its last line, if any."""
    return url if url and len(url) <= LINK_IN_TEXT_LIMIT else None


@dataclass(slots=True)
class RenderedComment:
    """A comment ready to show: every text escaped and mention-proof, within Discord's limits."""

    author: str  # plain text (for an embed's author slot)
    username: str  # a webhook's display name: 1-80 characters, no "discord" or "clyde"
    author_url: str | None
    avatar_url: str | None
    link: str | None  # the comment on the blog
    timestamp: float
    reply: str | None  # markdown: what the comment answers, one line
    body: str  # markdown, whole (cut by as_content / as_description)

    def _footer(self) -> str:
        when = f"<t:{int(self.timestamp)}:f>" if self.timestamp else ""
        if link := shown_link(self.link):
            return f"-# [Comment on the blog](<{link}>)" + (f" · {when}" if when else "")
        return f"-# Comment on the blog · {when}" if when else "-# Comment on the blog"

    def _fit(self, foot: str, limit: int) -> str:
        # the body keeps at least half the room, whatever the reply line and footer hold
        head = f"-# {cut(self.reply, limit // 4)}\n" if self.reply else ""
        foot = cut(foot, limit // 4)
        body = cut(self.body, limit - len(head) - len(foot)) if self.body else "*(no text)*"
        return head + body + foot

    def as_content(self, limit: int = CONTENT_LIMIT) -> str:
        """A webhook message's content: reply line, text, link and time (≤ limit)."""
        return self._fit("\n" + self._footer(), limit)

    def as_description(self, limit: int = DESCRIPTION_LIMIT) -> str:
        """An embed's description for the bot's own message (the author goes in the embed)."""
        link = shown_link(self.link)
        return self._fit(f"\n\n[Comment on the blog]({link})" if link else "", limit)


# Discord refuses a webhook name containing these words in any case; each is broken with a
# Cyrillic look-alike until none is left (an overlap such as "discordiscord" hides one)
_NAME_BANS = (
    (re.compile("discord", re.I), lambda m: m.group(0)[:4] + "\u043e" + m.group(0)[5:]),
    (re.compile("clyde", re.I), lambda m: m.group(0)[:4] + "\u0435"),
)
_RESERVED_NAMES = ("everyone", "here", "system message")


def webhook_username(name: str | None) -> str:
    """A name Discord accepts for a webhook message: 1-80 characters, one line, no control,
    bidi or invisible characters, no "discord" or "clyde" (Cyrillic look-alikes instead)."""
    name = inline_plain(name, USERNAME_LIMIT).replace("```", "'''")
    for pattern, repl in _NAME_BANS:
        while pattern.search(name):  # each pass replaces a Latin letter: it ends
            name = pattern.sub(repl, name)
    if not name or name.casefold() in _RESERVED_NAMES:
        name = f"{name} (comment)".strip() if name else "Anonymous"
    return name


def first_line(content_html: str, limit: int = REPLY_LINE_LIMIT) -> str:
    """The first line of a comment, as escaped, mention-proof markdown (≤ limit)."""
    text = next((line for line in html_to_text(content_html).split("\n") if line.strip()), "")
    return inline_markdown(text, limit)


def render_comment(
    comment: Comment,
    *,
    parent_author: str | None = None,
    parent_html: str | None = None,
    parent_url: str | None = None,
) -> RenderedComment:
    """What a comment looks like in its thread. `parent_url` links the mirrored parent.

    Pure but not cheap (HTML conversion): run it in a thread for long comments. Never raises
    on what a blog sends.
    """
    reply = None
    if comment.parent_id:
        if parent_author is not None:
            who = inline_markdown(parent_author, REPLY_AUTHOR_LIMIT, default="Anonymous")
            line = first_line(parent_html or "")
            reply = f"↪ Reply to **{who}**" + (f": {line}" if line else "")
        else:  # a parent the comment feed no longer shows: link it on the blog
            parent_link = shown_link(
                safe_url(_COMMENT_FRAGMENT.sub(f"#comment-{comment.parent_id}", comment.link or ""))
            )
            reply = (
                f"↪ Reply to [an earlier comment](<{parent_link}>)"
                if parent_link and parent_link != safe_url(comment.link)
                else "↪ Reply to an earlier comment"
            )
        if parent_url := shown_link(parent_url):
            reply += f" ([jump](<{parent_url}>))"
    link = safe_url(comment.link)
    return RenderedComment(
        author=inline_plain(comment.author, AUTHOR_LIMIT, default="Anonymous"),
        username=webhook_username(comment.author),
        author_url=web_url(comment.author_url),
        avatar_url=web_url(comment.avatar_url),
        link=link,
        timestamp=shown_timestamp(comment.published_at) or 0.0,
        reply=reply,
        body=html_to_markdown(comment.content_html or "", link),
    )


__all__ = [
    "RenderedComment",
    "first_line",
    "render_comment",
    "shown_link",
    "webhook_username",
]
