"""Archive search without SQL or Discord: user text -> safe FTS5 query, results as plain data.

Any text a user types becomes a query built here from tokens, each quoted as an FTS5 string
literal, so SQLite's query syntax never sees raw input. What users may write:

- words, all of which must match (stemmed, case- and diacritics-insensitive);
- "quoted phrases" (straight or curly quotes; an unclosed quote runs to the end);
- `-word` or `NOT word` to exclude; `OR` (upper case) between alternatives;
- `word*` for a prefix (at least ``MIN_PREFIX`` letters, else the star is ignored).

Everything else (parentheses, colons, `NEAR`, emoji, punctuation) is treated as text.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from .render.markdown import cut_plain, escape_markdown, neutralize_mentions
from .text import clean_text

MAX_QUERY_CHARS = 2000  # longer input is cut (a search box, not a document)
MAX_TERMS = 24  # positive and excluded terms together; more are ignored
MAX_PHRASE_WORDS = 12
MIN_PREFIX = 3  # "ab*" is searched as the word "ab": very short prefixes are too costly

# Snippet markers: FTS5 wraps matches in these, then they become Markdown once escaped.
HL_OPEN = "\x02"
HL_CLOSE = "\x03"
PLAIN_SNIPPET_CHARS = 180  # of a post's text shown when there are no words to highlight

_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORDS = re.compile(r"\w+", re.UNICODE)  # only to count words in a phrase
# Very common English words: dropped from unquoted queries when other words remain, because
# every post contains them (they cost time and change nothing in the ranking).
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its of on or our "
    "she so that the their them they this to was we were what when which who will with you "
    "your".split()
)


class QueryError(ValueError):
    """A filter value the user gave cannot be used; the message can be shown as is."""


def _safe(text: str | None, limit: int) -> str:
    """NFC text SQLite and FTS5 can take: cut to `limit`, without control characters (a NUL
    ends an FTS5 string early) and lone surrogates (JSON can carry them)."""
    text = (text or "")[:limit]
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
        text = unicodedata.normalize("NFC", text)
    return clean_text(text)


def _searchable(text: str) -> bool:
    """True when SQLite's unicode61 tokenizer finds at least one token in `text`."""
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or cat == "Co":
            return True
    return False


def _literal(text: str) -> str:
    """An FTS5 string literal: the tokenizer splits it, so it is a word or a phrase."""
    return '"' + text.replace('"', '""') + '"'


@dataclass(slots=True, frozen=True)
class Term:
    text: str  # as the user typed it (a word or the inside of a phrase)
    phrase: bool = False
    prefix: bool = False

    def fts(self) -> str:
        return _literal(self.text) + (" *" if self.prefix else "")


@dataclass(slots=True)
class ParsedQuery:
    """The user's search, understood: alternatives of required terms, and excluded terms."""

    groups: list[list[Term]] = field(default_factory=list)  # OR of ANDs
    excluded: list[Term] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # parts we could not search for

    @property
    def is_empty(self) -> bool:
        return not any(self.groups)

    def words(self) -> list[str]:
        return [t.text for g in self.groups for t in g]

    def fts(self) -> str:
        """The FTS5 expression (without column filter); '' when there is nothing to find."""
        groups = [g for g in self.groups if g]
        if not groups:
            return ""
        parts = [" AND ".join(t.fts() for t in g) for g in groups]
        expr = parts[0] if len(parts) == 1 else " OR ".join(f"({p})" for p in parts)
        if self.excluded:
            expr = f"({expr})" + "".join(f" NOT {t.fts()}" for t in self.excluded)
        return expr


def parse_query(text: str) -> ParsedQuery:
    """Understand what a user typed; never fails, whatever the input."""
    text = _safe(text, MAX_QUERY_CHARS).translate(_QUOTES)
    result = ParsedQuery(groups=[[]])
    negate_next = False
    count = 0
    for match in _TOKEN.finditer(text):
        minus, phrase, word = match.group(1), match.group(2), match.group(3)
        if word is not None:
            if word == "OR":
                if result.groups[-1]:
                    result.groups.append([])
                continue
            if word == "AND":
                continue
            if word == "NOT":
                negate_next = True
                continue
            negate = negate_next or (word.startswith("-") and len(word) > 1)
            core = word[1:] if word.startswith("-") else word
            prefix = core.endswith("*")
            core = core.rstrip("*").lstrip("*")
            if not _searchable(core):
                if word.strip("-*"):
                    result.dropped.append(word)
                negate_next = False
                continue
            if prefix and len(core) < MIN_PREFIX:
                prefix = False
            term = Term(core, prefix=prefix)
        else:
            negate = negate_next or bool(minus)
            words = _WORDS.findall(phrase)
            if not _searchable(phrase):
                if phrase.strip():
                    result.dropped.append(f'"{phrase}"')
                negate_next = False
                continue
            if len(words) > MAX_PHRASE_WORDS:
                phrase = " ".join(words[:MAX_PHRASE_WORDS])
            term = Term(phrase, phrase=True)
        negate_next = False
        if count >= MAX_TERMS:
            result.dropped.append(term.text)
            continue
        count += 1
        (result.excluded if negate else result.groups[-1]).append(term)
    result.groups = [_drop_stopwords(g) for g in result.groups if g]
    return result


def _drop_stopwords(group: list[Term]) -> list[Term]:
    kept = [t for t in group if t.phrase or t.prefix or t.text.lower() not in STOPWORDS]
    return kept or group


def column_filter(columns: list[str], expr: str) -> str:
    """Restrict an FTS5 expression to some columns."""
    return "{" + " ".join(columns) + "} : (" + expr + ")"


def feed_token(feed_id: int) -> str:
    """The token that ties an indexed post to its feed (see migration 002)."""
    return f"gazettefeed{int(feed_id)}"


def phrase_of(text: str) -> str:
    """A whole user value (an author, a category) as one FTS5 phrase, or '' if unusable."""
    text = _safe(text, 500)
    words = _WORDS.findall(text)
    if not words or not _searchable(text):
        return ""
    return _literal(" ".join(words[:MAX_PHRASE_WORDS]))


def title_words(text: str) -> list[str]:
    """Autocomplete: the searchable words typed (at most 8)."""
    return [w for w in _WORDS.findall(_safe(text, 200)) if _searchable(w)][:8]


def title_prefix_query(words: list[str], *, anchored: bool = False) -> str:
    """Every word must start a word of the title, the last one as a prefix; `anchored`:
    the words must begin the title, in that order."""
    if not words:
        return ""
    if anchored:
        return "^" + _literal(" ".join(words)) + " *"
    return " AND ".join([_literal(w) for w in words[:-1]] + [_literal(words[-1]) + " *"])


def words_query(words: list[str]) -> str:
    """Whole words, all required."""
    return " AND ".join(_literal(w) for w in words)


def fold(text: str) -> str:
    """Case and diacritics folded, as the index compares words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# --- results -------------------------------------------------------------------------------


@dataclass(slots=True)
class SearchHit:
    post_id: int
    title: str
    link: str | None
    author: str | None
    published_at: float | None  # unix seconds, UTC
    categories: list[str]
    snippet: str  # Discord Markdown: text escaped, matched words in **bold**
    feed_id: int = 0
    marked: str = ""  # the snippet with HL_OPEN/HL_CLOSE markers, unescaped

    @classmethod
    def highlighted(cls, marked: str | None, **fields) -> SearchHit:
        """A hit whose snippet is the index's, matched words between HL_OPEN and HL_CLOSE."""
        marked = marked or ""
        return cls(**fields, snippet=render_snippet(marked), marked=marked)

    @classmethod
    def opening(cls, text: str | None, **fields) -> SearchHit:
        """A hit whose snippet is the start of the post's text (no words to highlight)."""
        start = cut_plain(" ".join((text or "").split()), PLAIN_SNIPPET_CHARS)
        return cls.highlighted(start, **fields)

    def snippet_as(self, style: str) -> str:
        """'discord' (default field), 'plain' (no markers) or 'ansi' (bold for terminals)."""
        return render_snippet(self.marked, style)


@dataclass(slots=True)
class SearchPage:
    results: list[SearchHit]
    page: int  # 0-based
    total: int  # matches over all pages (a lower bound when total_exact is False)
    per_page: int = 5
    query: ParsedQuery | None = None
    notice: str | None = None  # why nothing could be searched, when that is the case
    total_exact: bool = True
    more: bool = False  # a next page exists

    @property
    def pages(self) -> int | None:
        """Number of pages, None when the total is only a lower bound."""
        return max(1, -(-self.total // self.per_page)) if self.total_exact else None

    @property
    def has_more(self) -> bool:
        return self.more

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    def total_text(self) -> str:
        """'1 result', '57 results', 'more than 1,000 results'."""
        if not self.total_exact:
            return f"more than {self.total:,} results"
        return f"{self.total:,} result{'' if self.total == 1 else 's'}"


_WS = re.compile(r"\s+")


# bidirectional overrides and isolates: in a snippet they would flip the text around them
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def render_snippet(marked: str, style: str = "discord") -> str:
    text = _WS.sub(" ", marked.translate(_BIDI)).strip()
    # a highlight cut by the ellipsis or empty highlights would leave stray markers
    text = text.replace(HL_OPEN + HL_CLOSE, "")
    if style == "plain":
        return text.replace(HL_OPEN, "").replace(HL_CLOSE, "")
    if style == "ansi":
        return text.replace(HL_OPEN, "\x1b[1m").replace(HL_CLOSE, "\x1b[0m")
    out = escape_markdown(neutralize_mentions(text))
    # adjacent highlights ("**a** **b**") read better merged
    out = out.replace(HL_CLOSE + " " + HL_OPEN, " ")
    return out.replace(HL_OPEN, "**").replace(HL_CLOSE, "**")


def parse_date(text: str) -> float:
    """'YYYY-MM-DD' (UTC midnight) as unix seconds; QueryError with a readable message."""
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise QueryError(
            # quoted cut: the option takes 6,000 characters and the answer only 2,000
            f"{cut_plain(text or '', 40)!r} is not a date: write it as YYYY-MM-DD, e.g. 2024-03-31"
        ) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
