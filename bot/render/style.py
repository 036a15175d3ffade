"""How an announcement looks (`/feed style`): its message style, and the optional template of
its text filled with values from the post (pure: the cogs build the Discord message).

Styles: `full` (the embed, as before styles existed), `compact` (a small embed: the title as a
link, the author, one line) and `link` (a plain message whose link Discord previews itself).
A template is the admin's text; every value put into it comes from the blog and is escaped:
one line, mentions neutralised, markdown escaped, no web address Discord would link or preview
(the post's own link aside). The roles a message may ping are named by the caller's
`allowed_mentions`, never by its text.
"""

from __future__ import annotations

import functools
import logging
import string
import unicodedata
from dataclasses import dataclass, field

from bot.models import Entry, Post
from bot.text import clean_text
from bot.topics import role_mentions

from .announcement import (
    REMOVED_NOTE,
    Announcement,
    plain_excerpt,
    render_announcement,
    render_removed,
)
from .markdown import cut, inline_markdown

log = logging.getLogger(__name__)

STYLES = ("full", "compact", "link")
DEFAULT_STYLE = "full"
STYLE_NAMES = {
    "full": "full embed",
    "compact": "compact embed",
    "link": "plain link (Discord's preview)",
}
PLACEHOLDERS = ("title", "link", "author", "categories", "excerpt", "roles")
#: Characters of a template, as the admin types it
TEMPLATE_LIMIT = 300
#: Discord's limit on a message's text
CONTENT_LIMIT = 2000
#: A compact embed's one line, and the values a template receives (a title is already ≤ 256)
COMPACT_LINE_LIMIT = 200
EXCERPT_VALUE_LIMIT = 300
AUTHOR_VALUE_LIMIT = 100
CATEGORIES_VALUE_LIMIT = 200
#: What gives way first when a filled template is too long (the link and roles never do)
_SHRINK_ORDER = ("excerpt", "categories", "author", "title")
#: The text without a template: the role mentions (as before styles); a link message
#: also shows the title and the link
_DEFAULT_TEMPLATES = {
    "full": "{roles}",
    "compact": "{roles}",
    "link": "{roles}\n**{title}**\n{link}",
}

Part = tuple[str, str | None]  # literal text, then a placeholder's name (None: none)


class TemplateError(ValueError):
    """A template that cannot be used; the message tells the admin what to change."""


_KNOWN = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def _unknown(name: str) -> TemplateError:
    # format characters (zero-width, direction marks) show nothing: inside a placeholder's
    # name they hide the mistake, so the answer names them
    seen = "".join(c for c in name if unicodedata.category(c) != "Cf")
    if seen in PLACEHOLDERS:
        return TemplateError(
            f"The placeholder {{{seen}}} has invisible characters in its name (zero-width "
            "spaces or direction marks, often pasted along): type it again."
        )
    # the admin's own text, shown back escaped (no code span: it could close it)
    shown = inline_markdown(name, 40)
    return TemplateError(f"Unknown placeholder {{{shown}}}: the template may use {_KNOWN}.")


@functools.lru_cache(maxsize=512)
def parse_template(template: str) -> tuple[Part, ...]:
    """The template's literal texts and placeholders, or TemplateError naming the problem:
    too long, a lone brace, an unknown placeholder, anything after a placeholder's name
    ({title!r}, {title:>9}, {title.__class__} are refused, never evaluated)."""
    if len(template) > TEMPLATE_LIMIT:
        raise TemplateError(
            f"The template is {len(template)} characters long; at most {TEMPLATE_LIMIT}."
        )
    # no control characters nor direction overrides (they would flip the post's title
    # shown after them): the admin's text is cleaned like any text from outside
    template = clean_text(template)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise TemplateError(
            "The template has a `{` or `}` that opens or closes no placeholder: "
            "write `{{` or `}}` for a brace itself."
        ) from None
    parts: list[Part] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None))
            continue
        if name not in PLACEHOLDERS:
            raise _unknown(name)
        if spec or conversion:
            raise TemplateError(
                f"Write the placeholder as {{{name}}}, with nothing after its name."
            )
        parts.append((literal, name))
    return tuple(parts)


def check_template(template: str | None) -> str | None:
    """The template to store (None: none), or TemplateError."""
    if template is None or not template.strip():
        return None
    template = clean_text(template).strip()
    parse_template(template)
    return template or None


def _no_autolink(text: str) -> str:
    # Discord links (and in a message, previews) any "scheme://...": a zero-width space
    # keeps a web address in a post's title or excerpt a plain text
    return text.replace("://", ":\u200b//")


def template_values(
    announcement: Announcement,
    post: Post | Entry,
    roles: str,
    *,
    bare_link: bool,
    names: frozenset[str] | set[str] = frozenset(PLACEHOLDERS),
) -> dict[str, str]:
    """Each placeholder's value, escaped (only those in `names` are worked out; the others
    are empty). `bare_link`: the link as is (Discord previews it); else in <> (the embed
    shows the post: no second preview)."""
    values = dict.fromkeys(PLACEHOLDERS, "")
    link = announcement.url or ""
    values["link"] = link if bare_link or not link else f"<{link}>"
    values["roles"] = roles
    values["title"] = _no_autolink(announcement.title)
    if "author" in names:
        values["author"] = _no_autolink(inline_markdown(post.author, AUTHOR_VALUE_LIMIT))
    if "categories" in names:
        values["categories"] = _no_autolink(
            cut(", ".join(announcement.categories), CATEGORIES_VALUE_LIMIT)
        )
    if "excerpt" in names:
        values["excerpt"] = _no_autolink(plain_excerpt(post, EXCERPT_VALUE_LIMIT))
    return values


def _fill(parts: list[Part], values: dict[str, str]) -> str:
    return "".join(literal + (values[name] if name else "") for literal, name in parts)


def _fitted(parts: list[Part], values: dict[str, str], limit: int) -> str:
    """The filled parts within `limit`: the excerpt gives way first, then the categories,
    the author and the title; the link and the role mentions stay whole if they can."""
    values = dict(values)
    text = _fill(parts, values)
    for name in _SHRINK_ORDER:
        excess = len(text) - limit
        if excess <= 0:
            return text
        uses = sum(1 for _, used in parts if used == name)
        if uses and values[name]:
            keep = len(values[name]) - -(-excess // uses)
            values[name] = cut(values[name], keep) if keep > 1 else ""
            text = _fill(parts, values)
    return cut(text, limit)


def _parts(style: str, template: str | None) -> list[Part]:
    if template:
        try:
            return list(parse_template(template))
        except TemplateError as exc:  # stored before a rule changed: the default stands in
            log.warning("template %r not used: %s", template, exc)
    return list(parse_template(_DEFAULT_TEMPLATES[style]))


def _message_text(
    style: str, parts: list[Part], values: dict[str, str], removed: bool, limit: int
) -> str | None:
    """The message's text in `style` (None: no text, an embed alone), within `limit`.

    The roles are put first when the template does not place them (so a template never
    silences the feed's mention), and a link message gets its link at the end when the
    template leaves it out (the preview is the point of that style).
    """
    names = {name for _, name in parts if name}
    if values["roles"] and "roles" not in names:
        parts = [("", "roles"), ("\n", None), *parts]
    if style == "link":
        if values["link"] and "link" not in names:
            parts = [*parts, ("\n", "link")]
        if removed:
            parts = [*parts, ("\n" + REMOVED_NOTE, None)]
    text = _fitted(parts, values, limit)
    text = "\n".join(line for line in text.split("\n") if line.strip()).strip()
    if not text and style == "link":
        text = cut(values["title"], limit)  # a message needs some text
    return text or None


@dataclass(slots=True)
class StyledAnnouncement:
    """An announcement as its subscription's style shows it."""

    announcement: Announcement
    style: str
    content: str | None  # the message's text (full, compact: above the embed; link: all)
    line: str = ""  # compact: the line under the title
    role_ids: list[int] = field(default_factory=list)  # the roles it may ping, and only those


def render_styled(
    post: Post | Entry,
    feed_title: str | None,
    style: str,
    template: str | None,
    role_ids: list[int],
    *,
    removed: bool = False,
    limit: int = CONTENT_LIMIT,
) -> StyledAnnouncement:
    """The post's announcement in `style` with `template` (None: the default text), pinging
    `role_ids`; `removed`: the blog removed the post (the announcement says so)."""
    if style not in STYLES:
        style = DEFAULT_STYLE
    announcement = (render_removed if removed else render_announcement)(post, feed_title)
    parts = _parts(style, template)
    names = {name for _, name in parts if name}
    values = template_values(
        announcement, post, role_mentions(role_ids), bare_link=style == "link", names=names
    )
    if removed:  # the article is gone: its words with it (the title stays, marked)
        values["excerpt"] = values["categories"] = ""
    content = _message_text(style, parts, values, removed, limit)
    line = ""
    if style == "compact":
        line = REMOVED_NOTE if removed else plain_excerpt(post, COMPACT_LINE_LIMIT)
    return StyledAnnouncement(announcement, style, content, line, list(role_ids))
