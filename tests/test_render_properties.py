"""Whatever a blog sends, what Gazette shows on Discord stays within Discord's limits.

Property-based (hypothesis) over the renderers and the search parser, with explicit tests
for each known attack. The limits checked are Discord's (as tests/fakediscord/ enforces
them): content 2,000; embed total 6,000, title 256, description 4,096, field name 256 and
value 1,024, 25 fields, footer 2,048, author 256; thread name 1-100; webhook name 1-80
without "discord" or "clyde".
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Comment, Entry
from bot.render.announcement import render_announcement
from bot.render.comment import render_comment, webhook_username
from bot.render.markdown import (
    html_to_markdown,
    inline_markdown,
    inline_plain,
    split_markdown,
    thread_name,
)
from bot.search import (
    QueryError,
    column_filter,
    feed_token,
    parse_date,
    parse_query,
    phrase_of,
    title_prefix_query,
    title_words,
    words_query,
)
from bot.text import html_to_text
from cogs.common.embeds import announcement_embed

MIGRATIONS = Path(__file__).resolve().parent.parent / "bot" / "store" / "migrations"
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- inputs

# what hostile text is made of: markdown, mentions, banned words, bidi and invisible
# characters, lone surrogates, controls, broken markup
FRAGMENTS = [
    "discord", "DiScOrD", "discordiscord", "clyde", "clclydeyde", "@everyone", "@here",
    "<@123456>", "<@&42>", "<#77>", "</cmd:9>", "\u202e", "\u202d", "\u2066", "\u200b",
    "\u200f", "\ufeff", "\u3164", "\u2028", "\ud800", "\udfff", "\x00", "\x1b", "\x85",
    "`", "```", "||", "](", "[", "]", "(", ")", "\\", "# ", "-# ", "> ", "1. ", "* ", "_",
    "~~", "**", "<", ">", "&", "&#x202e;", "&#0;", "&amp;", "http://a.example/x?y=1",
    "\n", "\t", " ", "👨‍👩‍👧", "🇫🇷", "é", "ש", "\u0301",
]  # fmt: skip
chars = st.characters(exclude_categories=())  # surrogates included
texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(chars, max_size=12)), max_size=40
).map("".join)

TAGS = [
    "b", "strong", "i", "em", "u", "s", "del", "a", "p", "div", "span", "ul", "ol", "li",
    "table", "tr", "td", "th", "blockquote", "pre", "code", "h1", "h3", "h6", "q", "sup",
    "figure", "figcaption", "mark", "kbd", "dl", "dt", "dd", "script", "style", "iframe",
    "video", "x-custom",
]  # fmt: skip
VOIDS = ["br", "hr", "img", "img src='https://a.example/p.png' alt='@everyone'"]
BROKEN = ["<", "</", "<!--", "<a ", "<a b='", "<![ x", "<?", "&#", "'>", '">', "<p", "-->"]
ATTRS = st.sampled_from(
    ["", " href='https://a.example/'", " href='javascript:alert(1)'", " href='/rel'",
     " title='\u202e'", " start='99999999999'", " colspan='5'", " class='x'"]
)  # fmt: skip


def _element(tag: str, attrs: str, inner: list[str]) -> str:
    return f"<{tag}{attrs}>{''.join(inner)}</{tag}>"


def _nested(tags: list[str], depth: int, core: str) -> str:
    opening = "".join(f"<{tags[i % len(tags)]}>" for i in range(depth))
    closing = "".join(f"</{tags[i % len(tags)]}>" for i in reversed(range(depth)))
    return opening + core + closing


leaf = st.one_of(
    texts.map(lambda t: t.replace("<", "&lt;")),
    st.sampled_from(VOIDS).map(lambda v: f"<{v}>"),
    st.sampled_from(BROKEN),
)
trees = st.recursive(
    leaf,
    lambda children: st.builds(
        _element, st.sampled_from(TAGS), ATTRS, st.lists(children, max_size=4)
    ),
    max_leaves=25,
)
deep = st.builds(
    _nested,
    st.lists(st.sampled_from(TAGS), min_size=1, max_size=4),
    st.integers(0, 3000),
    texts,
)
html_docs = st.one_of(trees, deep, st.lists(st.one_of(trees, deep), max_size=3).map("".join))

# --------------------------------------------------------------------------- checks

BIDI_OVERRIDES = re.compile("[\u202a-\u202e\u2066-\u2069]")
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PING = re.compile(r"@(everyone|here)|<(@[!&]?|#)\d+>|</[^<>\s:]+:\d+>")


def assert_clean(text: str) -> None:
    """Sendable as JSON, no control or bidi override, no mention Discord would resolve."""
    text.encode("utf-8")  # raises on a lone surrogate
    assert not BIDI_OVERRIDES.search(text), repr(text)
    assert not CONTROLS.search(text), repr(text)
    assert not PING.search(text), repr(text)


def assert_embed_within_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title") or "") <= 256
    assert len(data.get("description") or "") <= 4096
    assert len((data.get("author") or {}).get("name") or "") <= 256
    assert len((data.get("footer") or {}).get("text") or "") <= 2048
    fields = data.get("fields") or []
    assert len(fields) <= 25
    for fld in fields:
        assert 1 <= len(fld["name"]) <= 256
        assert 1 <= len(fld["value"]) <= 1024
        assert_clean(fld["value"])
    assert len(embed) <= 6000
    for text in (
        data.get("title"),
        data.get("description"),
        (data.get("author") or {}).get("name"),
        (data.get("footer") or {}).get("text"),
    ):
        if text:
            assert_clean(text)


def assert_thread_name(name: str) -> None:
    assert 1 <= len(name) <= 100 and name.strip() == name and name
    assert_clean(name)


def assert_webhook_name(name: str) -> None:
    assert 1 <= len(name) <= 80 and name.strip() == name
    assert "discord" not in name.casefold() and "clyde" not in name.casefold()
    assert name.casefold() not in ("everyone", "here")
    assert_clean(name)


def check_post(entry: Entry, feed_title: str | None = None) -> None:
    announcement = render_announcement(entry, feed_title)
    assert_embed_within_limits(announcement_embed(announcement))
    assert_thread_name(thread_name(entry.title))
    pages = split_markdown(html_to_markdown(entry.content_html, entry.link), 3800)
    for page in pages:
        assert 0 < len(page) <= 3800
        assert_clean(page)


def check_comment(comment: Comment, parent_author: str | None, parent_html: str | None):
    rendered = render_comment(comment, parent_author=parent_author, parent_html=parent_html)
    content = rendered.as_content()
    assert 0 < len(content) <= 2000
    assert_clean(content)
    description = rendered.as_description()
    assert 0 < len(description) <= 4096
    assert_clean(description)
    assert_webhook_name(rendered.username)
    assert 1 <= len(rendered.author) <= 256
    assert_clean(rendered.author)
    # the bot's own embed for the comment (cogs/discussion.py)
    embed = discord.Embed(description=description).set_author(name=rendered.author)
    assert_embed_within_limits(embed)


def comment(author: str, html: str, link: str = "https://blog.example/p/#comment-2", **kw):
    base = dict(
        id=2,
        post_wp_id=1,
        parent_id=None,
        author=author,
        author_url=None,
        avatar_url=None,
        published_at=1_700_000_000.0,
        content_html=html,
        link=link,
    )
    base.update(kw)
    return Comment(**base)


# --------------------------------------------------------------------------- properties


@PROPERTIES
@given(
    title=texts,
    author=st.one_of(st.none(), texts),
    categories=st.lists(texts, max_size=60),
    summary=html_docs,
    content=html_docs,
    feed_title=st.one_of(st.none(), texts),
    link=st.one_of(st.none(), texts, st.just("https://blog.example/" + "x" * 3000)),
    published=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_any_post_renders_within_discord_limits(
    title, author, categories, summary, content, feed_title, link, published
):
    entry = Entry(
        key="k",
        title=title,
        link=link,
        author=author,
        categories=categories,
        summary_html=summary,
        content_html=content,
        published_at=published,
        image_url=link,
    )
    check_post(entry, feed_title)


@PROPERTIES
@given(
    author=texts,
    html=html_docs,
    parent_author=st.one_of(st.none(), texts),
    parent_html=st.one_of(st.none(), html_docs),
    parent_id=st.one_of(st.none(), st.integers(1, 10**12)),
    link=st.one_of(texts, st.just("https://blog.example/p/?x=" + "%" * 2100 + "#comment-2")),
)
def test_any_comment_renders_within_discord_limits(
    author, html, parent_author, parent_html, parent_id, link
):
    check_comment(
        comment(author, html, link, parent_id=parent_id, author_url=link, avatar_url=link),
        parent_author,
        parent_html,
    )


@PROPERTIES
@given(name=texts)
def test_any_name_is_a_valid_webhook_and_thread_name(name):
    assert_webhook_name(webhook_username(name))
    assert_thread_name(thread_name(name))


@PROPERTIES
@given(text=texts, limit=st.integers(1, 300))
def test_inline_helpers_give_one_clean_line_within_the_limit(text, limit):
    for shown in (inline_markdown(text, limit), inline_plain(text, limit)):
        assert len(shown) <= limit
        assert "\n" not in shown
        assert_clean(shown)


@PROPERTIES
@given(md=st.one_of(texts, html_docs.map(html_to_markdown)), limit=st.integers(40, 4000))
def test_split_markdown_pages_fit(md, limit):
    pages = split_markdown(md, limit)
    assert all(0 < len(page) <= limit for page in pages)
    assert bool(pages) == bool(md.strip())


@PROPERTIES
@given(html=html_docs)
def test_html_to_text_never_raises_and_is_clean(html):
    text = html_to_text(html)
    text.encode("utf-8")
    assert not BIDI_OVERRIDES.search(text)


# --------------------------------------------------------------------------- search parser


@pytest.fixture(scope="module")
def fts():
    """The archive's real FTS5 tables (the store's migrations), with a few posts."""
    db = sqlite3.connect(":memory:")
    for path in sorted(MIGRATIONS.glob("*.sql")):
        db.executescript(path.read_text())
    db.execute("INSERT INTO feeds (id, url, created_at) VALUES (1, 'https://b.example/', 0)")
    columns = [row[1] for row in db.execute("PRAGMA table_info(posts)")]
    for i, title in enumerate(["Café society", "The quick brown fox", "Éléphant rose"], 1):
        values = {"id": i, "feed_id": 1, "entry_key": f"k{i}", "title": title}
        values = {k: v for k, v in values.items() if k in columns}
        required = [
            row[1] for row in db.execute("PRAGMA table_info(posts)") if row[3] and row[4] is None
        ]
        for name in required:
            values.setdefault(name, 0 if name.endswith("_at") else "")
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))
        db.execute(f"INSERT INTO posts ({names}) VALUES ({marks})", list(values.values()))
    for table in ("posts_fts", "titles_fts"):
        cols = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        db.execute(
            f"INSERT INTO {table}(rowid, {', '.join(cols)})"
            f" SELECT id, {', '.join(cols)} FROM posts_search_source"
        )
    yield db
    db.close()


def run(db: sqlite3.Connection, table: str, expression: str) -> None:
    """Raises sqlite3.OperationalError if FTS5 cannot parse the expression."""
    db.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT 5", (expression,))


query_texts = st.lists(
    st.one_of(
        st.sampled_from(
            [
                '"',
                "“",
                "”",
                "«",
                "-",
                "*",
                "OR",
                "AND",
                "NOT",
                "NEAR",
                "(",
                ")",
                ":",
                "^",
                "{",
                "}",
                "+",
                "title:",
                "-x",
                "ab*",
                '"a b',
                "\x00",
                "\ud800",
                " ",
                "fox",
                "the",
            ]
        ),  # fmt: skip
        st.text(chars, max_size=8),
    ),
    max_size=30,
).map(" ".join)


@PROPERTIES
@given(text=st.one_of(query_texts, texts))
def test_any_query_is_a_valid_fts5_expression(fts, text):
    parsed = parse_query(text)
    expression = parsed.fts()
    if parsed.is_empty:
        assert expression == ""
        return
    scope = column_filter(["feed"], '"' + feed_token(1) + '"')
    run(fts, "posts_fts", expression)
    run(fts, "posts_fts", f"({expression}) AND ({scope})")
    run(fts, "titles_fts", column_filter(["title", "author", "terms"], expression))


@PROPERTIES
@given(text=st.one_of(query_texts, texts))
def test_filters_and_autocomplete_are_valid_fts5(fts, text):
    if phrase := phrase_of(text):
        run(fts, "posts_fts", column_filter(["author"], phrase))
    if words := title_words(text):
        run(fts, "titles_fts", title_prefix_query(words))
        run(fts, "titles_fts", title_prefix_query(words, anchored=True))
        run(fts, "posts_fts", words_query(words))


@PROPERTIES
@given(text=st.one_of(texts, st.dates().map(str)))
def test_dates_are_understood_or_refused_with_a_user_error(text):
    try:
        assert isinstance(parse_date(text), float)
    except QueryError as exc:
        assert "YYYY-MM-DD" in str(exc)


# --------------------------------------------------------------------------- known attacks


def test_500_nested_bold_renders_everywhere():
    html = "<b>" * 500 + "deep words" + "</b>" * 500  # 3.5 KB, a comment WordPress accepts
    assert html_to_markdown(html) == "**deep words**"
    check_post(Entry(key="k", title="Deep", content_html=html, summary_html=html))
    check_comment(comment("Mallory", html, parent_id=1), "Mallory", html)


def test_20000_nested_divs_and_every_kind_of_deep_nesting():
    kinds = [["div"], ["ul", "li"], ["ol", "li"], ["table", "tr", "td"], ["blockquote"]]
    kinds += [["a href='https://a.example/'"], ["pre"], ["h1"], ["span", "i", "u", "s"]]
    for tags in kinds:
        html = "".join(f"<{t}>" for t in tags) * 20000 + "still here"
        md = html_to_markdown(html)
        assert "still here" in md.replace("\\", ""), tags
        check_post(Entry(key="k", title="Deep", content_html=html, summary_html=html))


def test_one_megabyte_attribute():
    html = f"<p title='{'a' * 1_000_000}'>short text</p><img alt='{'b' * 1_000_000}'>"
    md = html_to_markdown(html)
    assert md.startswith("short text\n\nbbb") and len(md) < 250  # the alt text, cut
    check_post(Entry(key="k", title="Big", content_html=html))


def test_unfinished_markup_runs_to_the_end_as_in_a_browser():
    # each of these made html.parser rescan the rest of the document once per occurrence
    for unit in ("<a ", "<a b='", "<!--", "</", "<?"):
        html = "<p>before</p>" + unit * 20_000
        assert html_to_markdown(html) == "before"
    # html.parser also stops at a broken character reference: the rest is kept, as text
    assert html_to_markdown("<p>a <b>bold</b> &#; c <i>d</i></p>") == "a **bold** &#; c d"
    assert html_to_markdown("<p>cut excerpt <b>x</b> <a href='https://a.example/") == (
        "cut excerpt **x**"
    )
    assert html_to_markdown("<p>a</p><![ x <b>b</b>") == "a\n\nb"  # the parser refuses it


def test_right_to_left_override_in_a_title_and_names():
    entry = Entry(
        key="k",
        title="\u202eelif.exe \u2066x\u2069",
        author="\u202emallory",
        content_html="<p>\u202etext</p>",
    )
    announcement = render_announcement(entry, "\u202dfeed")
    assert announcement.title == "elif.exe x"
    assert announcement.author == "mallory"
    assert announcement.feed_title == "feed"
    assert announcement.description == "text"
    assert thread_name(entry.title) == "elif.exe x"
    check_post(entry)


def test_discordiscord_and_friends():
    for name in ("discordiscord", "clclydeyde", "DiScOrD", "disc\u200bord", "CLYDE clyde"):
        assert_webhook_name(webhook_username(name))
    assert webhook_username("\u200b\u202e") == "Anonymous"
    assert webhook_username("everyone") == "everyone (comment)"


def test_lone_surrogates_are_replaced():
    html = "<p>a\ud800b &#xdfff; c</p>"
    assert html_to_markdown(html) == "a\ufffdb \ufffd c"
    check_post(Entry(key="k", title="x\udfffy", author="\ud800", content_html=html))
    check_comment(comment("\ud800bob", html), "\udc00", html)


def test_long_parent_author_and_link_leave_room_for_the_comment():
    rendered = render_comment(
        comment("a", "<p>the reply itself</p>", "https://b.example/?" + "q" * 1900, parent_id=1),
        parent_author="x" * 10_000,
        parent_html="<p>" + "y " * 5000 + "</p>",
    )
    content = rendered.as_content()
    assert len(content) <= 2000
    reply_line, body = content.split("\n")[:2]
    assert reply_line.startswith("-# ↪ Reply to **xxx") and body == "the reply itself"


def test_nested_formatting_is_written_once():
    assert html_to_markdown("<b><strong><b>x</b></strong></b>") == "**x**"
    assert (
        html_to_markdown("<a href='https://a.example/'><a href='https://b.example/'>x</a></a>")
        == "[x](https://a.example/)"
    )
    assert "```" not in html_to_markdown("<code>a ``` b</code>")
