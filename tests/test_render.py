"""bot.render: safe Discord markdown from blog HTML, cuts and pages that stay balanced."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from bot.feeds import FeedParseError, parse_feed
from bot.models import Entry
from bot.render.announcement import Announcement, render_announcement
from bot.render.markdown import (
    ZWSP,
    cut,
    escape_markdown,
    html_to_markdown,
    neutralize_mentions,
    safe_url,
    split_markdown,
)

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SAMPLES = Path("/work/shared/samples")
URL = "http://127.0.0.1:8080/feed/"
MENTIONS = ["@everyone", "@here", "<@123456>", "<@!123456>", "<@&987654>", "<#555>"]


def pings(text: str) -> bool:
    """Would Discord turn any part of text into a mention?"""
    return bool(re.search(r"@(everyone|here)|<(@[!&]?|#)\d+>", text))


def balanced(md: str) -> bool:
    """No dangling markdown: code fences and spans, emphasis, masked links."""
    if md.count("```") % 2:
        return False
    text = re.sub(r"```.*?```", "", md, flags=re.S)
    text = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text, flags=re.S)
    if "`" in text.replace("\\`", ""):
        return False
    text = re.sub(r"\\.", "", text)  # escaped characters are literal
    links = len(re.findall(r"\]\([^)\s]*\)", text))
    text = re.sub(r"\]\([^)\s]*\)", "]", text)  # link URLs are opaque
    text = re.sub(r"https?://[^\s)]+", "", text)
    for marker in ("**", "~~", "||", "__"):
        if text.count(marker) % 2:
            return False
        text = text.replace(marker, "")
    if text.count("*") % 2:
        return False
    return text.count("[") == text.count("]") >= links


def entry(**kw) -> Entry:
    base = dict(key="k", title="A title", link="https://blog.example/post/")
    base.update(kw)
    return Entry(**base)


# --------------------------------------------------------------------------- the seed article


@pytest.fixture(scope="module")
def seed():
    feed = parse_feed((FIXTURES / "seed-article.rss").read_bytes(), URL)
    return feed, feed.entries[0]


def test_seed_article_announcement(seed):
    feed, post = seed
    a = render_announcement(post, feed.title)
    assert isinstance(a, Announcement)
    assert a.title == "US fails to derail Iran-Russia arms deal"
    assert a.url == "http://127.0.0.1:8080/2009/03/08/us-fails-to-derail-iran-russia-arms-deal/"
    assert a.author == "seumasach"
    assert a.feed_title == "In These New Times"
    assert a.timestamp == 1236512400.0  # Sun, 08 Mar 2009 11:40:00 +0000
    assert a.categories == ["Iran", "Russia"]  # WordPress's "Uncategorized" is noise
    assert a.image_url == "http://127.0.0.1:8080/wp-content/uploads/2009/03/geneva.jpg"
    d = a.description
    assert d.startswith("The Russian foreign minister disappoints US hopes")
    assert "Sergei Lavrov" in d
    assert "[…]" not in d and "&#8230;" not in d
    assert d.endswith("…") and len(d) <= 700


def test_seed_article_full_text_pages(seed):
    _, post = seed
    md = html_to_markdown(post.content_html, post.link)
    assert "*7th March, 2009*" in md
    assert "[image: Lavrov and Clinton in Geneva](http://127.0.0.1:8080/wp-content/" in md
    assert "Source: [In These New Times](http://127.0.0.1:8080/2009/03/08/" in md
    assert "\n\n\n" not in md
    pages = split_markdown(md, 900)
    assert len(pages) >= 3
    assert all(len(p) <= 900 for p in pages)
    assert "".join("".join(pages).split()) == "".join(md.split())
    # pages break between paragraphs
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pages)


def test_excerpt_from_content_when_no_summary(seed):
    _, post = seed
    a = render_announcement(
        entry(summary_html="", content_html=post.content_html * 3, title="x"), None
    )
    assert 600 < len(a.description) <= 700 and a.description.endswith("…")
    assert balanced(a.description)


# --------------------------------------------------------------------------- WordPress tails


def test_wordpress_tails_are_stripped():
    feed = parse_feed((FIXTURES / "wordpress.rss").read_bytes(), URL)
    cafe, untitled, hello = (render_announcement(e, feed.title) for e in feed.entries)
    assert "Continue reading" not in cafe.description
    assert cafe.description.startswith("The short version of the café notes, with a ")
    assert "[relative link](http://127.0.0.1:8080/about/)" in cafe.description
    assert cafe.description.endswith("…")
    assert "appeared first on" not in untitled.description
    assert untitled.description == "A post without a title."
    assert untitled.title == "A post without a title."
    assert "[…]" not in hello.description and "[&#8230;]" not in hello.description
    assert hello.description.endswith("start writing! …")


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="no samples")
def test_every_sample_entry_renders_within_limits():
    for path in sorted(SAMPLES.glob("feeds-*/*")):
        try:
            feed = parse_feed(path.read_bytes(), URL)
        except FeedParseError:
            continue  # test_feeds decides which samples are not feeds
        for e in feed.entries:
            a = render_announcement(e, feed.title)
            assert 0 < len(a.title) <= 256, path.name
            assert len(a.description) <= 700, path.name
            assert len(a.author or "") <= 256
            assert len(a.categories_text) <= 1024
            total = len(a.title) + len(a.description) + len(a.author or "")
            total += len(a.categories_text) + len(a.feed_title or "")
            assert total <= 6000
            assert not pings(a.description + a.title), path.name
            assert balanced(a.description), (path.name, a.description)
            if a.url:
                assert a.url.startswith("http")
            assert "appeared first on" not in a.description, path.name


# --------------------------------------------------------------------------- safety


def test_mentions_are_neutralised_everywhere():
    for m in MENTIONS:
        assert not pings(neutralize_mentions(f"hi {m}!"))
        assert ZWSP in neutralize_mentions(m)
    html = "<p>" + " ".join(MENTIONS) + ' <a href="https://x.example/">link @everyone <@&1></a></p>'
    md = html_to_markdown(html)
    assert not pings(md)
    a = render_announcement(
        entry(
            title="Hey @everyone and <@&123>",
            author="@here <@42>",
            categories=["@everyone", "<#9>"],
            summary_html=html,
        ),
        "Feed <@&1>",
    )
    for text in (a.title, a.description, a.author, a.feed_title, a.categories_text):
        assert not pings(text), text
    assert "everyone" in a.title and "123" in a.title  # neutralised, not removed


def test_mention_in_url_keeps_the_link_working():
    md = html_to_markdown('<a href="https://x.example/@everyone/post">profile</a>')
    assert md == "[profile](https://x.example/%40everyone/post)"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\nscript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "http://",
    ],
)
def test_only_web_links_become_links(href):
    md = html_to_markdown(f'<p><a href="{href}">click me</a></p>')
    assert md == "click me"
    assert safe_url(href) is None


def test_weird_urls_are_percent_encoded():
    md = html_to_markdown('<a href="https://x.example/a b)c(d)?q=<x>&amp;r=`|">t</a>')
    assert md == "[t](https://x.example/a%20b%29c%28d%29?q=%3Cx%3E&r=%60%7C)"
    assert safe_url("mailto:someone@example.org") == "mailto:someone@example.org"


def test_markdown_in_text_is_escaped():
    md = html_to_markdown("<p>**not bold** _x_ ~~y~~ ||z|| `c` [a](https://evil) # h</p>")
    assert "**not" not in md.replace("\\*\\*", "")
    assert md.startswith("\\*\\*not bold\\*\\*")
    assert "\\[a\\]" in md and "](https://evil)" not in md.replace("\\](", "")
    assert "\\`c\\`" in md and "\\|\\|z\\|\\|" in md
    line_start = html_to_markdown("<p># not a heading</p><p>- not a list</p><p>> no quote</p>")
    assert line_start == "\\# not a heading\n\n\\- not a list\n\n\\> no quote"


def test_escape_markdown_plain():
    assert escape_markdown("a*b_c") == "a\\*b\\_c"
    assert escape_markdown("1. first") == "1\\. first"


def test_link_text_formatting_and_relative_links():
    md = html_to_markdown(
        '<p>See <a href="/docs/"><strong>the docs</strong></a> and <a href="#top">top</a>.</p>',
        "https://blog.example/2024/post/",
    )
    assert md == (
        "See [**the docs**](https://blog.example/docs/) and "
        "[top](https://blog.example/2024/post/#top)."
    )


def test_images_become_links():
    md = html_to_markdown(
        '<p><a href="/full.jpg"><img src="/thumb.jpg" alt="A *cat*"></a></p>'
        '<figure><img src="https://cdn.example/x.png"><figcaption>Caption</figcaption></figure>'
        '<p><img src="data:image/png;base64,AAAA" alt="inline data"></p>',
        "https://blog.example/p/",
    )
    # an image inside a link goes where the link points (often the full-size picture)
    assert "[image: A \\*cat\\*](https://blog.example/full.jpg)" in md
    assert "[image](https://cdn.example/x.png)" in md
    assert "Caption" in md
    assert "data:" not in md and "inline data" in md
    assert "![" not in md


def test_scripts_iframes_styles_dropped_and_headings_bold():
    md = html_to_markdown(
        "<h2>Intro</h2><script>alert(1)</script><style>p{color:red}</style>"
        '<iframe src="https://www.youtube.com/embed/x"></iframe><p>Body</p>'
        "<h3>Next <em>part</em></h3>\n\n\n\n<p>More</p>"
    )
    assert md == "**Intro**\n\nBody\n\n**Next *part***\n\nMore"


def test_code_blocks_cannot_be_escaped():
    md = html_to_markdown("<pre>a ``` b\n```\nc</pre><p><code>x`y</code></p>")
    assert md.count("```") == 2  # only the fences: the ones inside are broken with a ZWSP
    assert "`` x`y ``" in md


# --------------------------------------------------------------------------- cut


@pytest.mark.parametrize("limit", [1, 2, 5, 17, 40, 99])
def test_cut_never_exceeds_limit(limit):
    rng = random.Random(limit)
    pieces = ["word", "**bold words**", "*it*", "`code span`", "[a link](https://x.example/a)"]
    pieces += [
        "~~gone~~",
        "||secret||",
        "__under__",
        "\\*",
        "👍🏽",
        "e\u0301",
        "🇫🇷",
        "```\nblock\n```",
    ]
    for _ in range(300):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        out = cut(text, limit)
        assert len(out) <= limit
        if len(text) <= limit:
            assert out == text
        elif limit >= 5:
            assert balanced(out), (text, out)
            assert out.count("](") <= out.count("[")


def test_cut_at_word_boundary():
    text = "The quick brown fox jumps over the lazy dog"
    assert cut(text, 20) == "The quick brown fox…"
    assert cut(text, 100) == text
    assert cut("abcdefghijklmnop", 8) == "abcdefg…"


def test_cut_closes_or_drops_dangling_markdown():
    assert cut("some **bold text that runs long**", 20) == "some **bold text…**"
    assert cut("see [the link text](https://example.com/long/url) now", 30) == "see…"
    assert cut("x `code that is long` y", 12) == "x `code…`"
    assert cut("a ||spoiler goes on|| b", 14) == "a ||spoiler…||"
    assert cut("```\nline one\nline two\n```", 18) == "```\nline one…\n```"
    assert cut("**a** b **", 9) == "**a** b…"


def test_cut_keeps_graphemes_whole():
    family = "👨\u200d👩\u200d👧"
    text = family * 10
    for limit in range(2, 30):
        out = cut(text, limit).removesuffix("…")
        assert out == family * (len(out) // len(family)), (limit, out)
    flags = "🇫🇷🇩🇪🇮🇹🇪🇸"
    for limit in range(2, 9):
        assert len(cut(flags, limit).removesuffix("…")) % 2 == 0
    assert cut("e\u0301" * 10, 6).removesuffix("…") in ("e\u0301" * 2, "e\u0301")


def test_cut_does_not_leave_an_escape_hanging():
    out = cut("aaaa \\*\\*\\*\\*\\*\\*", 10)
    assert not re.search(r"(?<!\\)\\(\\\\)*…", out)


# --------------------------------------------------------------------------- split_markdown


def test_split_short_text_is_one_page():
    assert split_markdown("hello") == ["hello"]
    assert split_markdown("") == []


def test_split_pages_within_limit_and_rejoin():
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "[link](https://example.com/x)", "delta", "epsilon"]
    paras = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 120))) for _ in range(30)]
    paras.append(" ".join(["huge"] * 900))  # a paragraph longer than a page
    paras.append("\n".join(["line " + str(i) * 30 for i in range(200)]))  # long lines block
    md = "\n\n".join(paras)
    for limit in (200, 500, 1900):
        pages = split_markdown(md, limit)
        assert all(0 < len(p) <= limit for p in pages)
        assert "".join("".join(pages).split()) == "".join(md.split())
        for p in pages:  # links are never split
            assert p.count("[link](") == p.count("(https://example.com/x)")


def test_split_code_block_is_refenced():
    code = "```\n" + "\n".join(f"print({i})" for i in range(400)) + "\n```"
    md = "Intro paragraph.\n\n" + code + "\n\nOutro."
    pages = split_markdown(md, 500)
    assert all(len(p) <= 500 for p in pages)
    assert all(p.count("```") % 2 == 0 for p in pages)
    body = "".join(pages)
    assert all(f"print({i})" in body for i in range(400))


def test_split_reopens_formatting():
    md = "**" + " ".join(["bold"] * 200) + "**"
    pages = split_markdown(md, 300)
    assert len(pages) > 2
    assert all(p.startswith("**") and p.endswith("**") and len(p) <= 300 for p in pages)


def test_image_with_caption_inside_a_link_and_glued_mentions():
    md = html_to_markdown(
        '<p><a href="/post"><img src="/i.png" alt="pic"> and caption</a></p>'
        "<p>@<span>everyone</span> @everyones <b>@here</b></p>",
        "https://blog.example/",
    )
    assert md.startswith("[image: pic and caption](https://blog.example/post)")
    assert not pings(md)
