"""bot.discovery against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discovery import NotAFeed, discover, find_feed_links, looks_like_html
from bot.fetch import HTTPStatusError

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def rss(title: str, *items: str) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>https://blog.example/{t.lower()}/</link>"
        f"<guid>https://blog.example/?p={i}</guid></item>"
        for i, t in enumerate(items, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://blog.example/</link>{body}</channel></rss>"
    ).encode()


POSTS = rss("A Blog", "First", "Second")
COMMENTS = rss("Comments on: A Blog", "Comment on First by Ann")

RSS_TYPE = "application/rss+xml; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"


def page(head: str, body: str = "<p>Hello</p>") -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en-US'><head><meta charset='UTF-8'>"
        f"<title>A Blog</title>{head}</head><body>{body}</body></html>"
    )


async def test_a_feed_url_is_taken_as_is(site, fetcher):
    site.route("/feed/", POSTS, content_type=RSS_TYPE, headers={"ETag": '"p1"'})
    found = await discover(fetcher, site.url("/feed/"))
    assert found.feed_url == site.url("/feed/")
    assert found.parsed.title == "A Blog"
    assert [e.title for e in found.parsed.entries] == ["First", "Second"]
    assert found.result.etag == '"p1"'
    assert len(site.requests) == 1


async def test_feed_url_is_the_one_after_redirects(site, fetcher):
    site.route("/feed/", POSTS, content_type=RSS_TYPE)
    site.redirect("/rss", "/feed/", status=301)
    found = await discover(fetcher, site.url("/rss"))
    assert found.feed_url == site.url("/feed/")


async def test_wordpress_home_page_picks_the_posts_feed_over_comments(site, fetcher):
    # the comments feed comes first here, so picking by order alone would be wrong
    head = f"""
    <link rel='dns-prefetch' href='//s.w.org' />
    <link rel="alternate" type="application/rss+xml" title="A Blog &raquo; Comments Feed"
          href="{site.url("/comments/feed/")}" />
    <link rel="alternate" type="application/rss+xml" title="A Blog &raquo; Feed"
          href="{site.url("/feed/")}" />
    <link rel="https://api.w.org/" href="{site.url("/wp-json/")}" />
    <link rel="alternate" type="application/json" href="{site.url("/wp-json/wp/v2/pages/2")}" />
    """
    site.route("/", page(head), content_type=HTML_TYPE)
    site.route("/feed/", POSTS, content_type=RSS_TYPE)
    site.route("/comments/feed/", COMMENTS, content_type=RSS_TYPE)

    found = await discover(fetcher, site.url("/"))
    assert found.feed_url == site.url("/feed/")
    assert found.parsed.title == "A Blog"
    assert site.requests_for("/comments/feed/") == []


async def test_single_post_page_leads_to_the_site_feed_not_the_posts_comments(site, fetcher):
    head = f"""
    <link rel="alternate" type="application/rss+xml" title="A Blog &raquo; Feed"
          href="/feed/" />
    <link rel="alternate" type="application/rss+xml" title="A Blog &raquo; Comments Feed"
          href="/comments/feed/" />
    <link rel="alternate" type="application/rss+xml"
          title="A Blog &raquo; Hello world! Comments Feed"
          href="{site.url("/hello-world/feed/")}" />
    """
    site.route("/hello-world/", page(head), content_type=HTML_TYPE)
    site.route("/feed/", POSTS, content_type=RSS_TYPE)
    site.route("/hello-world/feed/", COMMENTS, content_type=RSS_TYPE)
    found = await discover(fetcher, site.url("/hello-world/"))
    assert found.feed_url == site.url("/feed/")


async def test_page_with_only_a_comments_feed_falls_back_to_the_site_feed(site, fetcher):
    head = """<link rel="alternate" type="application/rss+xml"
        title="Hello world! Comments Feed" href="/hello-world/feed/" />"""
    site.route("/hello-world/", page(head), content_type=HTML_TYPE)
    site.route("/feed/", POSTS, content_type=RSS_TYPE)
    site.route("/hello-world/feed/", COMMENTS, content_type=RSS_TYPE)
    found = await discover(fetcher, site.url("/hello-world/"))
    assert found.feed_url == site.url("/feed/")


async def test_relative_href_is_resolved_against_the_page(site, fetcher):
    head = '<link rel="alternate" type="application/atom+xml" title="Atom" href="../atom.xml">'
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Blog</title>
    <id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
    <entry><title>Hi</title><id>urn:x:1</id><updated>2024-01-01T00:00:00Z</updated>
    <link href="https://blog.example/hi"/></entry></feed>"""
    site.route("/blog/index.html", page(head), content_type=HTML_TYPE)
    site.route("/atom.xml", atom, content_type="application/atom+xml")
    found = await discover(fetcher, site.url("/blog/index.html"))
    assert found.feed_url == site.url("/atom.xml")
    assert found.parsed.title == "Atom Blog"


async def test_base_href_is_honoured(site, fetcher):
    head = (
        '<base href="/journal/">'
        '<link rel="alternate" type="application/rss+xml" title="Posts" href="rss.xml">'
    )
    site.route("/", page(head), content_type=HTML_TYPE)
    site.route("/journal/rss.xml", POSTS, content_type=RSS_TYPE)
    found = await discover(fetcher, site.url("/"))
    assert found.feed_url == site.url("/journal/rss.xml")


async def test_page_linking_nothing_is_not_a_feed(site, fetcher):
    site.route("/", page('<link rel="stylesheet" href="/style.css">'), content_type=HTML_TYPE)
    with pytest.raises(NotAFeed) as info:
        await discover(fetcher, site.url("/"))
    assert str(info.value) == f"{site.url('/')} is not a feed and links to none"
    # the WordPress default place was tried once, and nothing else
    assert [r.path for r in site.requests] == ["/", "/feed/"]


async def test_home_page_without_link_but_with_wordpress_feed(site, fetcher):
    site.route("/", page(""), content_type=HTML_TYPE)
    site.route("/feed/", POSTS, content_type=RSS_TYPE)
    found = await discover(fetcher, site.url("/"))
    assert found.feed_url == site.url("/feed/")
    assert len(found.parsed.entries) == 2


async def test_broken_linked_feed_is_skipped_for_the_next(site, fetcher):
    head = """
    <link rel="alternate" type="application/rss+xml" title="Old feed" href="/old.rss">
    <link rel="alternate" type="application/rss+xml" title="Posts" href="/posts.rss">
    """
    site.route("/", page(head), content_type=HTML_TYPE)
    site.route("/old.rss", "gone", status=410)
    site.route("/posts.rss", POSTS, content_type=RSS_TYPE)
    found = await discover(fetcher, site.url("/"))
    assert found.feed_url == site.url("/posts.rss")


async def test_linked_feeds_that_cannot_be_read(site, fetcher):
    head = '<link rel="alternate" type="application/rss+xml" title="Feed" href="/feed.rss">'
    site.route("/", page(head), content_type=HTML_TYPE)
    site.route("/feed.rss", page(""), content_type=HTML_TYPE)  # a theme that serves HTML
    with pytest.raises(NotAFeed, match="the feeds it links to could not be read"):
        await discover(fetcher, site.url("/"))


async def test_an_unreachable_page_reports_the_fetch_error(site, fetcher):
    site.route("/", "down", status=500)
    with pytest.raises(HTTPStatusError, match="HTTP 500"):
        await discover(fetcher, site.url("/"))


def test_link_finding_stops_at_the_head():
    html = page(
        '<link rel="alternate" type="application/rss+xml" title="Feed" href="/feed/">',
        body='<link rel="alternate" type="application/rss+xml" href="/not-this/">',
    ).encode()
    links = find_feed_links(html, "https://blog.example/post/")
    assert [(x.href, x.title, x.is_comments) for x in links] == [
        ("https://blog.example/feed/", "Feed", False)
    ]


def test_comment_feeds_are_recognised_in_other_languages():
    html = page(
        '<link rel="alternate" type="application/rss+xml" title="Blog &raquo; Feed" href="/feed/">'
        '<link rel="alternate" type="application/rss+xml" title="Blog &raquo; Kommentar-Feed"'
        ' href="/comments/feed/">'
        '<link rel="alternate" type="application/rss+xml" title="Flux des commentaires"'
        ' href="/?feed=comments-rss2">'
    ).encode()
    links = find_feed_links(html, "https://blog.example/")
    assert [x.is_comments for x in links] == [False, True, True]


def test_html_sniffing():
    assert looks_like_html(b"\n<!DOCTYPE html><html>")
    assert looks_like_html(b"\xef\xbb\xbf<html lang=en>")
    assert looks_like_html(b"<!-- cached by WP Super Cache --><!doctype html>")
    assert not looks_like_html(b'<?xml version="1.0"?><rss/>')
    assert not looks_like_html(b"\n<rss version='2.0'>")


def test_real_wordpress_post_page_links():
    sample = SAMPLES / "html" / "wptavern-post-with-comments_wp4.8.html"
    if not sample.exists():
        pytest.skip("shared samples not present")
    links = find_feed_links(sample.read_bytes(), "https://wptavern.com/some-post")
    posts = [x.href for x in links if not x.is_comments]
    assert posts[0] == "https://wptavern.com/feed"
    assert "https://wptavern.com/comments/feed" in [x.href for x in links if x.is_comments]


async def test_real_wordpress_feed_behind_a_home_page(site, fetcher):
    sample = SAMPLES / "feeds-wordpress" / "techcrunch_wordpress.com_2011_LEADING-NEWLINE.rss"
    if not sample.exists():
        pytest.skip("shared samples not present")
    head = '<link rel="alternate" type="application/rss+xml" title="TC &raquo; Feed" href="/feed/">'
    site.route("/", page(head), content_type=HTML_TYPE)
    site.route("/feed/", sample.read_bytes(), content_type="text/xml", gzip=True)
    found = await discover(fetcher, site.url("/"))
    assert found.feed_url == site.url("/feed/")
    assert len(found.parsed.entries) == 20
