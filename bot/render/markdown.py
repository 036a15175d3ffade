"""Discord markdown from untrusted text and HTML: escaping, links, HTML -> markdown, cutting.

Everything that reaches Discord from a blog is untrusted: text is markdown-escaped, mentions
are broken with a zero-width space, links are only http(s)/mailto with a percent-encoded URL,
and every cut keeps the markdown balanced.
"""

from __future__ import annotations

import html as htmllib
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

from bs4 import BeautifulSoup
from bs4.builder import HTMLParserTreeBuilder
from bs4.builder._htmlparser import BeautifulSoupHTMLParser
from markdownify import (
    MarkdownConverter,
    should_remove_whitespace_inside,
    should_remove_whitespace_outside,
)

from bot.limits import MAX_URL
from bot.text import clean_text, html_to_text

log = logging.getLogger(__name__)

__all__ = [
    "cut",
    "cut_plain",
    "escape_markdown",
    "html_to_markdown",
    "inline_markdown",
    "inline_plain",
    "neutralize_mentions",
    "parse_html",
    "safe_url",
    "shown_timestamp",
    "shows_something",
    "split_markdown",
    "thread_name",
    "web_url",
]

ZWSP = "\u200b"

# Discord embed limits
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
TOTAL_LIMIT = 6000

# --------------------------------------------------------------------------- plain text

_MENTION = re.compile(r"<(@[!&]?|#|/[^<>\s:]{1,32}:)(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)", re.IGNORECASE)
_MD_CHARS = re.compile(r"([\\*_~`|\[\]<>])")
_MD_LINE_START = re.compile(r"(^|\s)(#{1,6}|-#|[-+]+|>+)(?=\s|$)")
_DIGIT_DOT = re.compile(r"\d[.)]")
_MD_LIST_NUM = re.compile(r"((?:^|\s)\d{1,9})([.)])(?=\s|$)")


def neutralize_mentions(text: str) -> str:
    """@everyone, @here, <@id>, <@!id>, <@&id>, <#id> and </cmd:id> made harmless (ZWSP)."""
    if "@" not in text and "<" not in text:
        return text
    text = _EVERYONE.sub(lambda m: "@" + ZWSP + m.group(1), text)
    return _MENTION.sub(lambda m: "<" + m.group(1) + ZWSP + m.group(2) + ">", text)


def escape_markdown(text: str) -> str:
    """Escape Discord markdown in plain text (a backslash before any punctuation is legal)."""
    text = _MD_CHARS.sub(r"\\\1", text)
    if "#" in text or "-" in text or "+" in text or ">" in text:
        text = _MD_LINE_START.sub(
            lambda m: m.group(1) + "".join("\\" + c for c in m.group(2)), text
        )
    if _DIGIT_DOT.search(text):
        text = _MD_LIST_NUM.sub(r"\1\\\2", text)
    return text


_URL_JUNK = re.compile(r"[\x00-\x1f\x7f]+")


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s)/mailto URL safe inside ``[text](url)``, or None."""
    if not url:
        return None
    url = htmllib.unescape(url) if "&" in url else url
    url = _URL_JUNK.sub("", url.strip(" \t\r\n\f"))  # as browsers do
    if base:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "mailto") or (scheme != "mailto" and not parts.netloc):
        return None
    url = quote(url, safe="/:?#&=+;%,!$'*@~-._[]", errors="replace")
    url = _EVERYONE.sub(r"%40\1", url)
    return url if len(url) <= MAX_URL else None  # Discord takes no longer URL


def web_url(url: str | None, base: str | None = None) -> str | None:
    """safe_url() limited to http(s): what Discord accepts as an embed's url or image."""
    url = safe_url(url, base)
    return url if url and url.startswith(("http://", "https://")) else None


# --------------------------------------------------------------------------- HTML -> markdown

_DROP_TAGS = (
    "script style noscript iframe object embed form button input select textarea svg canvas "
    "template head title"
).split()


_HAS_DROP_TAG = re.compile(r"<(?:" + "|".join(_DROP_TAGS) + r")\b", re.I)

# Beyond these bounds tags are dropped and their text kept. Real posts nest a few dozen
# levels at most (converting is recursive: markdownify takes 3 frames a level) and hold a
# few thousand tags (each costs ~50 µs to parse and convert).
MAX_HTML_DEPTH = 64
MAX_HTML_TAGS = 10_000
ALT_LIMIT = 200  # an image's description, shown in its place


class _PendingEnds(dict):
    """Void elements awaiting a stray closing tag, counted by name: bs4 keeps them in a
    list it searches at every closing tag (quadratic with thousands of <br>)."""

    def append(self, name: str) -> None:
        self[name] = self.get(name, 0) + 1

    def remove(self, name: str) -> None:
        if self[name] > 1:
            self[name] -= 1
        else:
            del self[name]


class _BoundedParser(BeautifulSoupHTMLParser):
    """html.parser that builds a tree of at most MAX_HTML_DEPTH levels and MAX_HTML_TAGS
    tags: a tag beyond is dropped, its text kept (a dropped script's or style's text too)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.already_closed_empty_element = _PendingEnds()
        self._tags = 0
        self._skipping: str | None = None  # a dropped script or style

    def _keep(self, tag: str, void: bool) -> bool:
        self._tags += 1
        if self._tags > MAX_HTML_TAGS:
            return False
        return void or len(self.soup.tagStack) <= MAX_HTML_DEPTH

    def handle_starttag(self, tag, attrs, handle_empty_element=True):
        if not self._keep(tag, self.soup.builder.can_be_empty_element(tag)):
            if tag in self.CDATA_CONTENT_ELEMENTS:
                self._skipping = tag
            return
        super().handle_starttag(tag, attrs, handle_empty_element)

    def handle_startendtag(self, tag, attrs):
        if self._keep(tag, True):
            super().handle_startendtag(tag, attrs)

    def handle_endtag(self, tag, check_already_closed=True):
        if self._skipping == tag:
            self._skipping = None
            return
        super().handle_endtag(tag, check_already_closed)

    def handle_data(self, data):
        if self._skipping is None:
            super().handle_data(data)


class _BoundedTreeBuilder(HTMLParserTreeBuilder):
    """The html.parser tree builder, bounded in depth and in time.

    html.parser stops feeding at the first construct the document never completes (a
    comment, a tag or a quoted attribute left open); finishing it the standard way rescans
    the rest of the document for every such construct (quadratic: minutes for 100 KB of
    "<a "). Such a construct runs to the end of the document, as in a browser, which shows
    nothing of it; anything else left (a broken character reference) is kept as text.
    """

    def feed(self, markup):
        args, kwargs = self.parser_args
        parser = _BoundedParser(self.soup, *args, **kwargs)
        parser.feed(markup)
        rest = parser.rawdata
        if rest:
            parser.rawdata = ""
            if not rest.startswith("<"):
                parser.handle_data(html_to_text(rest))
        parser.close()
        parser.already_closed_empty_element = []


def parse_html(html: str) -> BeautifulSoup:
    """A bs4 tree of untrusted HTML, at most MAX_HTML_DEPTH deep, in linear time."""
    return BeautifulSoup(html, builder=_BoundedTreeBuilder())


# linear whitespace patterns: each starts only at the beginning of a run (markdownify's
# and a plain [\t \r\n]*[\r\n] backtrack through every position of a long run of spaces)
_RUN_SPACES = re.compile(r"[\t ]+")
_RUN_NEWLINES = re.compile(r"(?<![\t \r\n])[\t \r\n]*[\r\n][\t \r\n]*")
_BACKTICKS = re.compile(r"``+")
_LINE_AFTER = re.compile(r"\n(?=[^\n])")  # a line break before a non-empty line

_FORMAT_FAMILIES = {
    "b": ("b", "strong"),
    "strong": ("b", "strong"),
    "em": ("em", "i"),
    "i": ("em", "i"),
    "del": ("del", "s", "strike"),
    "s": ("del", "s", "strike"),
    "strike": ("del", "s", "strike"),
}


class DiscordConverter(MarkdownConverter):
    """markdownify tuned for Discord embeds: no headings, images as links, safe links."""

    class Options(MarkdownConverter.DefaultOptions):
        bullets = "-"
        strong_em_symbol = "*"
        escape_asterisks = False  # escape() below does all of it
        escape_underscores = False
        escape_misc = False
        base_url = None

    _defaults: dict | None = None

    def __init__(self, base_url: str | None = None):
        # markdownify rebuilds its options with dir() on every instance: do it once
        cls = type(self)
        if cls._defaults is None:
            super().__init__()
            cls._defaults = dict(self.options)
        self.options = {**cls._defaults, "base_url": base_url}
        self.convert_fn_cache = {}
        self._list_numbers: dict[int, int] = {}

    def convert(self, html):
        soup = parse_html(html)
        if _HAS_DROP_TAG.search(html):
            for tag in soup.find_all(_DROP_TAGS):
                tag.decompose()
        return self.convert_soup(soup)

    def process_text(self, el, parent_tags=None):
        # markdownify's, with linear whitespace patterns
        parent_tags = parent_tags or set()
        text = str(el)
        if "pre" not in parent_tags:
            text = _RUN_NEWLINES.sub("\n", _RUN_SPACES.sub(" ", text))
        if "_noformat" not in parent_tags:
            text = self.escape(text, parent_tags)
        if should_remove_whitespace_outside(el.previous_sibling) or (
            should_remove_whitespace_inside(el.parent) and not el.previous_sibling
        ):
            text = text.lstrip(" \t\r\n")
        if should_remove_whitespace_outside(el.next_sibling) or (
            should_remove_whitespace_inside(el.parent) and not el.next_sibling
        ):
            text = text.rstrip()
        return text

    def escape(self, text, parent_tags):
        return escape_markdown(neutralize_mentions(text)) if text else ""

    def _url(self, url):
        return safe_url(url, self.options["base_url"])

    def convert_a(self, el, text, parent_tags):
        if "_noformat" in parent_tags or "a" in parent_tags:
            return text  # a link inside a link: the outer one wins, as in browsers
        href = self._url(el.get("href"))
        if not text.strip():
            return text
        prefix = " " if text[:1].isspace() else ""
        suffix = " " if text[-1:].isspace() else ""
        text = " ".join(text.split())
        if not text or not href:
            return prefix + text + suffix if text else ""
        if text.replace("\\", "") == href:
            return prefix + href + suffix
        return f"{prefix}[{text}]({href}){suffix}"

    def convert_b(self, el, text, parent_tags):
        # the same formatting nested (<b><b>x</b></b>) once only: no "****x****"
        if any(name in parent_tags for name in _FORMAT_FAMILIES[el.name]):
            return text
        return super().convert_b(el, text, parent_tags)

    convert_strong = convert_b

    def convert_em(self, el, text, parent_tags):
        if any(name in parent_tags for name in _FORMAT_FAMILIES[el.name]):
            return text
        return super().convert_em(el, text, parent_tags)

    convert_i = convert_em

    def convert_del(self, el, text, parent_tags):
        if any(name in parent_tags for name in _FORMAT_FAMILIES[el.name]):
            return text
        return super().convert_del(el, text, parent_tags)

    convert_s = convert_strike = convert_del

    def convert_code(self, el, text, parent_tags):
        # runs of backticks broken so that the span is `...` or `` ... `` and never a ```
        # fence Discord would open anywhere in the line
        if "_noformat" not in parent_tags and "``" in text:
            text = _BACKTICKS.sub(lambda m: ZWSP.join(m.group()), text)
        return super().convert_code(el, text, parent_tags)

    convert_kbd = convert_samp = convert_code

    def convert_li(self, el, text, parent_tags):
        parent = el.parent
        if parent is None or parent.name != "ol":
            return super().convert_li(el, text, parent_tags)
        # markdownify counts the previous items of each item (quadratic for long lists)
        number = self._list_numbers.get(id(parent))
        if number is None:
            start = str(parent.get("start") or "")
            number = int(start) if start.isdigit() and len(start) < 10 else 1
        self._list_numbers[id(parent)] = number + 1
        text = (text or "").strip()
        if not text:
            return "\n"
        bullet = f"{number}. "
        return bullet + _LINE_AFTER.sub("\n" + " " * len(bullet), text) + "\n"

    def convert_img(self, el, text, parent_tags):
        alt = inline_markdown(el.get("alt"), ALT_LIMIT)
        src = self._url(el.get("src") or el.get("data-src"))
        if "_inline" in parent_tags or not src:
            return alt
        label = f"image: {alt}" if alt else "image"
        if "a" in parent_tags:
            return label  # the enclosing link makes it a link, to where the author pointed
        return f"[{label}]({src})"

    def convert_video(self, el, text, parent_tags):
        src = el.get("src") or next((s.get("src") for s in el.find_all("source")), None)
        src = self._url(src)
        return f"[video]({src})" if src and "_inline" not in parent_tags else ""

    convert_audio = convert_video

    def convert_hN(self, n, el, text, parent_tags):
        if "_inline" in parent_tags:
            return text
        text = " ".join(text.split())
        return f"\n\n**{text}**\n\n" if text else ""

    def convert_br(self, el, text, parent_tags):
        return " " if "_inline" in parent_tags else "\n"

    def convert_hr(self, el, text, parent_tags):
        return "\n\n───\n\n"

    def convert_u(self, el, text, parent_tags):
        if "u" in parent_tags:
            return text
        return self._wrap(text, "__", parent_tags)

    def convert_mark(self, el, text, parent_tags):
        return text

    def _wrap(self, text, marker, parent_tags):
        if "_noformat" in parent_tags:
            return text
        stripped = text.strip()
        if not stripped:
            return text
        lead = " " if text[:1].isspace() else ""
        trail = " " if text[-1:].isspace() else ""
        return f"{lead}{marker}{stripped}{marker}{trail}"

    def convert_pre(self, el, text, parent_tags):
        if not text:
            return ""
        # a ``` inside the code would close the block early
        text = text.replace("```", "``" + ZWSP + "`")
        # markdownify's strip_pre, without its patterns (they backtrack over long runs)
        lead = len(text) - len(text.lstrip(" \n"))
        text = text[text.rfind("\n", 0, lead) + 1 :].rstrip(" \n")
        return f"\n\n```\n{text}\n```\n\n"

    def convert_table(self, el, text, parent_tags):
        return "\n\n" + text.strip() + "\n\n"

    def convert_tr(self, el, text, parent_tags):
        return text.strip(" |") + "\n"

    def convert_td(self, el, text, parent_tags):
        return " " + " ".join(text.split()) + " |"

    convert_th = convert_td


_BLANKS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"(?<![ \t])[ \t]+\n")


def _plain_markdown(html: str) -> str:
    """The last resort: the text alone, escaped (html_to_text neither recurses nor
    backtracks)."""
    paragraphs = html_to_text(html).split("\n")
    return "\n\n".join(escape_markdown(neutralize_mentions(p)) for p in paragraphs)


def html_to_markdown(html: str, base_url: str | None = None) -> str:
    """Untrusted HTML -> Discord markdown: escaped, mention-proof, absolute http(s) links.

    Never raises: HTML the converter cannot take is shown as plain text.
    """
    if not html or not html.strip():
        return ""
    if "\r" in html:  # as an HTML parser's input stream does: a bare CR would stay in <pre>
        html = html.replace("\r\n", "\n").replace("\r", "\n")
    if "<" not in html:  # plain text (common in excerpts): what markdownify would do, faster
        text = htmllib.unescape(html) if "&" in html else html
        if "  " in text or "\t" in text:
            text = _RUN_SPACES.sub(" ", text)
        if "\n" in text or "\r" in text:  # &#13; unescapes to a CR
            text = _RUN_NEWLINES.sub("\n", text)
        md = escape_markdown(neutralize_mentions(text)).strip()
    else:
        try:
            md = DiscordConverter(base_url=base_url).convert(html)
        except Exception:
            log.exception("HTML could not be converted (%d characters): shown as text", len(html))
            md = _plain_markdown(html)
    md = _TRAILING_SPACE.sub("\n", clean_text(md))
    md = _BLANKS.sub("\n\n", md).strip()
    return neutralize_mentions(md)


# --------------------------------------------------------------------------- cutting

_MARKERS = ("**", "__", "~~", "||", "*")
_URL_TOKEN = re.compile(r"https?://[^\s<>]+")
_GRAPHEME_EXTEND = {0x200D, 0xFE0E, 0xFE0F, 0x20E3}


@dataclass(slots=True)
class _Open:
    """Markdown left open at the end of a text, with where each construct starts."""

    markers: list[tuple[str, int]] = field(default_factory=list)  # (marker, position)
    code: tuple[str, int] | None = None  # an unclosed backtick run
    link: int | None = None  # start of an incomplete masked link

    def closers(self) -> str:
        code = ""
        if self.code:
            code = "\n```" if len(self.code[0]) >= 3 else self.code[0]
        return code + "".join(m for m, _ in reversed(self.markers))


#: Where _scan_markdown has something to look at: an escape, code, a link, a URL, a marker's
#: first character. Plain text between them is skipped in one search (4 KB excerpts: the
#: scan went from 5 startswith() per character to one regex step per special character)
_SCAN_STOP = re.compile(r"[\\`\[*_~|]|https?://")


def _scan_markdown(text: str) -> _Open:
    state = _Open()
    stack = state.markers
    i, n = 0, len(text)
    while i < n:
        stop = _SCAN_STOP.search(text, i)
        if stop is None:
            break
        i = stop.start()
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "`":
            j = i
            while j < n and text[j] == "`":
                j += 1
            run = text[i:j]
            if len(run) >= 3:
                run = "```"
            end = text.find(run, j)
            if end < 0:
                state.code = (run, i)
                return state
            i = end + len(run)
            continue
        if c == "h" and (m := _URL_TOKEN.match(text, i)):
            i = m.end()
            continue
        if c == "[":
            close = _link_end(text, i)
            if close is None:
                state.link = i
                return state
            if text[close - 1] == ")":  # a whole link: its URL is opaque
                i = close
                continue
        i = _take_marker(text, i, stack)
    return state


def _take_marker(text: str, i: int, stack: list[tuple[str, int]]) -> int:
    """The marker at i (if any) opens or closes on the stack; returns where to go on."""
    for marker in _MARKERS:
        if text.startswith(marker, i):
            names = [m for m, _ in stack]
            if names and names[-1] == marker:
                stack.pop()
            elif marker in names:
                # crossed markers (**a *b** c*): fall back to the outer one
                del stack[names.index(marker) :]
            else:
                stack.append((marker, i))
            return i + len(marker)
    return i + 1


def _link_end(text: str, start: int) -> int | None:
    """End index of the masked link opening at start ('[' + text + '](' + url + ')'),
    the index after ']' for a plain bracket pair, or None when cut short."""
    depth = 0
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                if i + 1 == n:
                    return None  # '[text]' at the very end: maybe a link cut before '('
                if text[i + 1] == "(":
                    close = text.find(")", i + 2)
                    return close + 1 if close >= 0 else None
                return i + 1
        i += 1
    return None


def _safe_end(text: str, end: int) -> int:
    """Move end left so that no grapheme (combining marks, ZWJ sequences, flags) is split."""
    while 0 < end < len(text):
        cur, prev = ord(text[end]), ord(text[end - 1])
        if (
            unicodedata.combining(text[end])
            or cur in _GRAPHEME_EXTEND
            or prev == 0x200D
            or 0x1F3FB <= cur <= 0x1F3FF  # skin tones
            or 0xE0020 <= cur <= 0xE007F  # tag sequences
            or 0xDC00 <= cur <= 0xDFFF  # a lone low surrogate
        ):
            end -= 1
            continue
        if 0x1F1E6 <= cur <= 0x1F1FF and 0x1F1E6 <= prev <= 0x1F1FF:
            # regional indicators pair up from the start of the run
            k = end
            while k > 0 and 0x1F1E6 <= ord(text[k - 1]) <= 0x1F1FF:
                k -= 1
            if (end - k) % 2:
                end -= 1
                continue
        break
    return end


def _word_cut(text: str, budget: int) -> str:
    if budget >= len(text):
        return text
    head = text[:budget]
    if not text[budget].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space >= budget // 2:
            return head[:space]
        return head[: _safe_end(text, budget)]
    return head


def cut_plain(text: str, limit: int, ellipsis: str = "…") -> str:
    """cut() for text never rendered as markdown (thread names, embed author and footer)."""
    if len(text) <= limit:
        return text
    return _word_cut(text, limit - len(ellipsis)).rstrip() + ellipsis


# --------------------------------------------------------------------------- one line

# Invisible characters that would let a name look empty or hide a word ("disc\u200bord"):
# soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer and
# Mongolian fillers, zero-width space, LRM/RLM, word joiner and invisible operators,
# deprecated format characters, BOM. ZWJ and ZWNJ stay: emoji and Persian need them.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f"
    "\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0]"
)


def _one_line(text: str | None) -> str:
    text = clean_text(text or "")
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    return " ".join(text.split())


def _visible(text: str) -> bool:
    """True when text shows something (a letter, digit, punctuation or symbol)."""
    return any(unicodedata.category(c)[0] in "LNPS" and c != "\u2800" for c in text)


def shows_something(text: str | None) -> bool:
    """True when text, on one line without invisible characters, shows something."""
    return _visible(_one_line(text))


def inline_plain(text: str | None, limit: int, default: str = "") -> str:
    """Text from outside for a slot that renders no markdown (an embed's author or footer,
    a thread name): one line without control, bidi or invisible characters, mentions
    neutralised, cut to limit; `default` when nothing visible is left."""
    text = _one_line(text)
    if not _visible(text):
        return default
    return cut_plain(neutralize_mentions(text), limit)


def inline_markdown(text: str | None, limit: int, default: str = "") -> str:
    """Text from outside shown in one line of a Discord message (a title in bold, a name,
    an error quoted in a notice, a result line): one line without control, bidi or invisible
    characters, mentions neutralised, markdown escaped, cut to limit (escapes included);
    `default` (not escaped) when nothing visible is left."""
    text = _one_line(text)
    if not _visible(text):
        return default
    return cut(escape_markdown(neutralize_mentions(text)), limit)


def thread_name(title: str | None) -> str:
    """An article's discussion thread name: its plain title, within Discord's 100 characters."""
    return inline_plain(title, 100, default="Discussion")


def cut(text: str, limit: int, ellipsis: str = "…") -> str:
    """text shortened to at most limit characters at a word boundary, markdown kept balanced.

    A masked link cut in half is dropped; **, *, __, ~~, ||, ` and ``` left open are closed
    (after the ellipsis); an opener left dangling at the very end is removed.
    """
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return ellipsis[:limit]
    budget = limit - len(ellipsis)
    while budget > 0:
        head = _word_cut(text, budget)
        while True:
            head = head.rstrip()
            # an odd number of trailing backslashes would escape what follows
            if (len(head) - len(head.rstrip("\\"))) % 2:
                head = head[:-1]
                continue
            state = _scan_markdown(head)
            if state.link is not None:
                head = head[: state.link]
                continue
            if state.code and not head[state.code[1] + len(state.code[0]) :].strip():
                head = head[: state.code[1]]  # an empty code span
                continue
            if state.markers:
                marker, pos = state.markers[-1]
                if not head[pos + len(marker) :].strip():
                    head = head[:pos]  # an opener with nothing after it
                    continue
            break
        out = head + ellipsis + state.closers()
        if len(out) <= limit:
            return out
        budget -= max(1, len(out) - limit)
    return ellipsis[:limit]


# --------------------------------------------------------------------------- pages

_CODE_BLOCK = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.M | re.S)
_WORD_TOKEN = re.compile(r"\[(?:[^\[\]\\]|\\.)*\]\([^)\s]*\)|\S+|\s+")
_PARA = re.compile(r"\n{2,}")


def _blocks(md: str) -> list[str]:
    """Paragraphs, with fenced code blocks kept whole."""
    blocks: list[str] = []
    pos = 0
    for m in _CODE_BLOCK.finditer(md):
        blocks += _PARA.split(md[pos : m.start()])
        blocks.append(m.group(0))
        pos = m.end()
    blocks += _PARA.split(md[pos:])
    return [b.strip("\n") for b in blocks if b.strip()]


def _split_code(block: str, limit: int) -> list[str]:
    """A fenced block longer than a page: closed at each page end, reopened on the next."""
    lines = block.split("\n")
    opener, body = lines[0], lines[1:-1]
    room = max(1, limit - len(opener) - len("\n\n```"))
    pages: list[str] = []
    cur: list[str] = []
    size = -1
    for line in body:
        while len(line) > room:  # one line longer than a page: cut it hard
            if cur:
                pages.append("\n".join([opener, *cur, "```"]))
                cur, size = [], -1
            end = _safe_end(line, room) or room
            pages.append("\n".join([opener, line[:end], "```"]))
            line = line[end:]
        if cur and size + 1 + len(line) > room:
            pages.append("\n".join([opener, *cur, "```"]))
            cur, size = [], -1
        cur.append(line)
        size += 1 + len(line)
    if cur:
        pages.append("\n".join([opener, *cur, "```"]))
    return pages


def _split_words(text: str, limit: int) -> list[str]:
    """A line longer than a page, at spaces; masked links are never split."""
    pages: list[str] = []
    cur = ""
    for token in _WORD_TOKEN.findall(text):
        if len(cur) + len(token) <= limit:
            cur += token
            continue
        if cur.strip():
            pages.append(cur.strip())
        cur = "" if token.isspace() else token
        while len(cur) > limit:  # a single word longer than a page
            end = _safe_end(cur, limit) or limit
            pages.append(cur[:end])
            cur = cur[end:]
    if cur.strip():
        pages.append(cur.strip())
    return pages


def _rebalance(pages: list[str], limit: int) -> list[str]:
    """Close formatting left open at a page end and reopen it at the start of the next."""
    out = []
    carry = ""
    for page in pages:
        candidate = carry + page
        state = _scan_markdown(candidate)
        if len(candidate) + len(state.closers()) > limit:
            candidate = page  # no room to reopen: lose the formatting, not the text
            state = _scan_markdown(candidate)
        state.code = None  # code blocks were split on their own
        out.append(candidate + state.closers())
        carry = "".join(m for m, _ in state.markers)
    return out


def split_markdown(md: str, limit: int = 1900) -> list[str]:
    """Pages of at most limit characters, split at paragraphs, else lines, else words.

    Fenced code blocks are closed at a page end and reopened on the next page; inline
    formatting left open by a split is closed and reopened the same way.
    """
    md = md.strip()
    if not md:
        return []
    if len(md) <= limit:
        return [md]
    room = max(limit // 2, limit - 16)  # leaves space for closing/reopening markers
    pieces: list[tuple[str, str]] = []  # (glue before, text)
    for block in _blocks(md):
        if len(block) <= room:
            pieces.append(("\n\n", block))
        elif block.startswith("```"):
            pieces.extend(("\n\n", page) for page in _split_code(block, room))
        else:
            glue = "\n\n"
            for line in block.split("\n"):
                parts = [line] if len(line) <= room else _split_words(line, room)
                for part in parts:
                    pieces.append((glue, part))
                    glue = "\n" if part is parts[-1] else " "
    pages: list[str] = []
    cur = ""
    for glue, piece in pieces:
        if cur and len(cur) + len(glue) + len(piece) > room:
            pages.append(cur)
            cur = ""
        cur = cur + glue + piece if cur else piece
    if cur:
        pages.append(cur)
    return _rebalance(pages, limit)


# years 1 to 9999: what datetime and Discord's ISO 8601 timestamps can hold
_EARLIEST, _LATEST = -62_135_596_800.0, 253_402_300_799.0


def shown_timestamp(value: float | None) -> float | None:
    """A date from a blog that Discord can show (<t:...>, an embed's timestamp), or None."""
    if value is None or not math.isfinite(value) or not _EARLIEST <= value <= _LATEST:
        return None
    return value
