"""Plain text from untrusted HTML, for the archive's search index."""

from __future__ import annotations

import html
import re

_DROP = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/blockquote|/tr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def html_to_text(markup: str) -> str:
    """Tags removed, entities decoded, whitespace collapsed; paragraphs kept as newlines."""
    if not markup:
        return ""
    text = _DROP.sub(" ", markup)
    text = _BLOCK.sub("\n", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    # str.split() collapses whitespace in C, many times faster than a regex substitution
    return "\n".join(words for line in text.split("\n") if (words := " ".join(line.split())))


def one_line(markup: str | None) -> str:
    """A title or a name from HTML: tags out, entities decoded, all on one line."""
    return " ".join(html_to_text(markup or "").split())
