"""Plain text from untrusted HTML, for the archive's search index.

Every function here runs in time linear in its input, whatever a blog sends: no regex that
can backtrack over a long run, no recursion over nesting.
"""

from __future__ import annotations

import html
import re

# Characters no text from outside may carry to Discord or SQLite: C0 and C1 controls (tab
# and newlines aside), lone surrogates (JSON can carry them; SQLite and Discord refuse
# them), and the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
# U+2066-U+2069) that flip the text shown after them. Line and paragraph separators
# become spaces.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


# Invisible characters inside a word (soft hyphen, zero-width space, word joiner, BOM,
# Mongolian vowel separator): SQLite's tokenizer cuts the word there, so a blog could hide
# "sponsored" from word filters and from search. Dropped from text and titles read from
# blogs (never from what Gazette writes: its escapes insert zero-width spaces later).
_INVISIBLE = re.compile("[\u00ad\u180e\u200b\u2060\ufeff]")


def without_invisibles(text: str) -> str:
    """text without the invisible characters that split a word for the search index."""
    if _INVISIBLE.search(text) is None:
        return text
    return _INVISIBLE.sub("", text)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """text with each lone surrogate (JSON can carry them; SQLite cannot store them) as U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _safe_char(m: re.Match) -> str:
    c = m.group()
    if "\ud800" <= c <= "\udfff":
        return "\ufffd"
    return " " if c in "\u2028\u2029" else ""


def clean_text(text: str) -> str:
    """text without control characters, bidi overrides and lone surrogates."""
    if _UNSAFE.search(text) is None:  # the common case: one scan, no copy
        return text
    return _UNSAFE.sub(_safe_char, text)


_DROP_OPEN = re.compile(r"<(script|style|noscript)\b", re.IGNORECASE)
_DROP_CLOSE = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "noscript")
}
_BLOCK = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/blockquote|/tr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def _drop_hidden(markup: str) -> str:
    """Scripts and styles out. Each closing tag is searched once: an opening tag with no
    closing one after it means none of its kind has one further on (no rescans)."""
    parts: list[str] = []
    pos = 0
    unclosed: set[str] = set()
    search_from = 0
    while m := _DROP_OPEN.search(markup, search_from):
        name = m.group(1).lower()
        close = None if name in unclosed else _DROP_CLOSE[name].search(markup, m.end())
        if close is None:
            unclosed.add(name)  # left to the tag stripper, as text
            search_from = m.end()
            continue
        parts += (markup[pos : m.start()], " ")
        pos = search_from = close.end()
    if not parts:
        return markup
    parts.append(markup[pos:])
    return "".join(parts)


def _strip_tags(text: str) -> str:
    """Tags out (block ends as newlines). A '<' after the last '>' cannot start a tag: the
    patterns only see the text up to there, so none of them rescans to the end."""
    for pattern, repl in ((_BLOCK, "\n"), (_TAG, " ")):
        last = text.rfind(">")
        if last < 0:
            break
        text = pattern.sub(repl, text[: last + 1]) + text[last + 1 :]
    return text


def html_to_text(markup: str) -> str:
    """Tags removed, entities decoded, whitespace collapsed; paragraphs kept as newlines."""
    if not markup:
        return ""
    text = _drop_hidden(markup) if "<" in markup else markup
    text = _strip_tags(text)
    text = without_invisibles(clean_text(html.unescape(text)))
    # str.split() collapses whitespace in C, many times faster than a regex substitution
    return "\n".join(words for line in text.split("\n") if (words := " ".join(line.split())))


_WHITESPACE = re.compile(r"\s+")


def squash_spaces(text: str | None) -> str:
    """Plain text on one line: each run of whitespace one space, none at the ends."""
    return _WHITESPACE.sub(" ", text or "").strip()


def one_line(markup: str | None) -> str:
    """A title or a name from HTML: tags out, entities decoded, all on one line."""
    return " ".join(html_to_text(markup or "").split())
