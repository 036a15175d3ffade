"""bot.wordpress: REST discovery, REST posts (backfill), REST comments and the comment feed.

Two halves:
* offline: responses captured from a real WordPress 6.1 (tests/fixtures/wordpress/, see
  capture.py there), served by aiohttp on 127.0.0.1;
* @pytest.mark.wordpress: against a real WordPress started by scripts/wordpress.sh (skipped,
  with the reason, where it cannot start).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import web

from bot.feeds import parse_feed
from bot.fetch import Fetcher, create_session
from bot.models import Comment
from bot.wordpress import (
    WordPressError,
    api_url,
    fetch_feed_comments,
    fetch_rest_comments,
    find_rest_post_id,
    find_rest_root,
    iter_rest_posts,
    parse_comment_feed,
)

if TYPE_CHECKING:
    from tests.wordpress_fixture import WordPress

pytest_plugins = ["tests.wordpress_fixture"]  # the wordpress and wp_blog fixtures

FIXTURES = Path(__file__).parent / "fixtures" / "wordpress"
CAPTURED = "http://wp.example"


# =========================================================================== offline


def test_api_url_in_both_forms():
    assert (
        api_url("http://h/wp-json/", "wp/v2/posts", {"page": 2, "_embed": "author,wp:term"})
        == "http://h/wp-json/wp/v2/posts?page=2&_embed=author,wp:term"
    )
    assert (
        api_url("http://h/blog/wp-json", "wp/v2/comments") == "http://h/blog/wp-json/wp/v2/comments"
    )
    assert (
        api_url("http://h/index.php?rest_route=/", "wp/v2/posts", {"per_page": 10})
        == "http://h/index.php?rest_route=/wp/v2/posts&per_page=10"
    )
    assert api_url("http://h/?rest_route=/", "", {"_fields": "namespaces"}) == (
        "http://h/?rest_route=/&_fields=namespaces"
    )


class CapturedBlog:
    """Serves the captured files with their URLs pointing at this server."""

    NAMES = {
        "/wp/v2/categories": {2: "News", 3: "Science &amp; Tech", 5: "Culture"},
        "/wp/v2/tags": {4: "intro", 6: "talk"},
        "/wp/v2/users": None,
    }

    def __init__(self, *, rest: str = "on", embed: bool = True) -> None:
        self.rest = rest
        self.embed = embed
        self.requests: list[str] = []
        self.base = ""

    def body(self, name: str) -> bytes:
        text = (FIXTURES / name).read_text(encoding="utf-8")
        text = text.replace(CAPTURED, self.base)
        text = text.replace(CAPTURED.replace("/", "\\/"), self.base.replace("/", "\\/"))
        return text.encode()

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        path = request.path
        route = request.query.get("rest_route")
        if path == "/wp-json/" or path.startswith("/wp-json/") or route:
            if self.rest == "error":
                if "_envelope" in request.query:
                    return web.Response(
                        body=self.body("rest-disabled.json"), content_type="application/json"
                    )
                return web.Response(
                    status=401,
                    body=self.body("rest-disabled.json"),
                    content_type="application/json",
                )
            if self.rest == "off":
                raise web.HTTPNotFound()
            sub = route or path[len("/wp-json") :]
            if sub in ("/", ""):
                return web.json_response(body=self.body("rest-root.json"))
            if sub == "/wp/v2/posts":
                page = request.query.get("page", "1")
                if self.embed:
                    return web.json_response(body=self.body(f"posts-page-{page}.json"))
                envelope = json.loads(self.body(f"posts-page-{page}.json"))
                for post in envelope["body"]:
                    del post["_embedded"]  # as from a site that does not honour _embed
                return web.json_response(envelope)
            if sub in self.NAMES:  # ?include=1,2 -> [{"id", "name"}] (in an envelope)
                names = self.NAMES[sub]
                ids = [int(i) for i in request.query["include"].split(",")]
                if names is None:  # users hidden, as security plugins do
                    body = {"code": "rest_user_cannot_view", "message": "Sorry."}
                    return web.json_response({"body": body, "status": 401, "headers": {}})
                body = [{"id": i, "name": names[i]} for i in ids if i in names]
                return web.json_response({"body": body, "status": 200, "headers": {}})
            if sub == "/wp/v2/comments":
                return web.json_response(body=self.body("comments.json"))
            raise web.HTTPNotFound()
        if path == "/":
            return web.Response(body=self.body("home.html"), content_type="text/html")
        if path == "/feed/":
            return web.Response(body=self.body("feed.xml"), content_type="application/rss+xml")
        if path.endswith("/feed/"):
            return web.Response(
                body=self.body("comment-feed.xml"), content_type="application/rss+xml"
            )
        raise web.HTTPNotFound()


@pytest.fixture
async def captured_blog(request):
    blog = CapturedBlog(**getattr(request, "param", {}))
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", blog.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    blog.base = f"http://127.0.0.1:{port}"
    yield blog
    await runner.cleanup()


async def test_find_rest_root_from_the_home_page(captured_blog, fetcher):
    assert await find_rest_root(fetcher, captured_blog.base) == captured_blog.base + "/wp-json/"


@pytest.mark.parametrize("captured_blog", [{"rest": "error"}, {"rest": "off"}], indirect=True)
async def test_find_rest_root_none_when_disabled(captured_blog, fetcher):
    assert await find_rest_root(fetcher, captured_blog.base) is None


async def test_rest_posts_from_captured_pages(captured_blog, fetcher):
    pages = iter_rest_posts(fetcher, captured_blog.base + "/wp-json/", per_page=2)
    got = [entries async for entries in pages]
    assert [len(p) for p in got] == [2, 1]
    assert (pages.total, pages.total_pages, pages.done) == (3, 2, 3)
    first, image_post, talk = [e for p in got for e in p]

    assert first.title == "First steps: café & “quotes”"
    assert first.author == "Ada Lovelace"
    assert first.categories == ["News", "Science & Tech"]
    assert first.tags == ["intro"]
    assert first.published_at == 1704448800.0  # 2024-01-05T10:00:00Z
    assert "<strong>world</strong>" in first.content_html
    assert image_post.author == "Émile Zola"
    assert image_post.image_url == captured_blog.base + "/wp-content/uploads/gazette-5.png"
    assert talk.tags == ["intro", "talk"]

    feed = parse_feed(captured_blog.body("feed.xml"), captured_blog.base + "/feed/")
    by_key = {e.key: e for e in feed.entries}
    for e in (first, image_post, talk):
        f = by_key[e.key]  # the same key as the RSS feed: backfill never duplicates
        assert (f.title, f.link, f.author) == (e.title, e.link, e.author)
        assert f.published_at == e.published_at
        assert f.comments_feed == e.comments_feed
        assert sorted(f.categories) == sorted(e.categories + e.tags)
    assert (first.wp_id, image_post.wp_id) == (4, 5)
    assert (by_key[first.key].wp_id, by_key[image_post.key].wp_id) == (4, 5)
    # a post created already published: its guid is the permalink, the feed cannot tell its id
    assert talk.key == talk.link and talk.wp_id == 7 and by_key[talk.key].wp_id is None


@pytest.mark.parametrize("captured_blog", [{"embed": False}], indirect=True)
async def test_rest_posts_without_embed_resolve_terms_by_id(captured_blog, fetcher):
    pages = iter_rest_posts(fetcher, captured_blog.base + "/wp-json/", per_page=2)
    entries = [e async for page in pages for e in page]
    assert [(e.categories, e.tags) for e in entries] == [
        (["News", "Science & Tech"], ["intro"]),
        (["Culture"], []),
        (["News"], ["intro", "talk"]),
    ]
    assert [e.author for e in entries] == [None, None, None]  # users endpoint refused
    assert entries[1].image_url is not None  # no featured media: the body's first image
    asked = [
        r.split("?")[0].rsplit("/", 1)[1] + ":" + r.split("include=")[1].split("&")[0]
        for r in captured_blog.requests
        if "include=" in r
    ]
    # each id asked once, only when a page brings one not seen before
    assert asked == ["categories:2,3,5", "tags:4", "users:2,3", "tags:6"]


async def test_rest_comments_from_capture(captured_blog, fetcher):
    comments = await fetch_rest_comments(fetcher, captured_blog.base + "/wp-json/", 7)
    assert [(c.id, c.parent_id) for c in comments] == [
        *[(i, None) for i in range(2, 14)],
        (14, 3),
        (15, 2),
        (18, 15),
    ]
    assert all(c.type == "comment" and c.post_wp_id == 7 for c in comments)
    assert comments[0].author == "Reader 1"
    assert comments[0].content_html.strip() == "<p>Comment 1</p>"
    assert comments[0].link.endswith("/2024/01/comments-here/#comment-2")
    assert comments[0].avatar_url and "s=96" in comments[0].avatar_url
    assert comments[12].content_html.strip() == "<p>Plain text reply<br />\nwith two lines</p>"
    later = await fetch_rest_comments(fetcher, captured_blog.base + "/wp-json/", 7, after_id=14)
    assert [c.id for c in later] == [15, 18]


def test_comment_feed_from_capture():
    body = (FIXTURES / "comment-feed.xml").read_bytes()
    comments = parse_comment_feed(body, CAPTURED + "/2024/01/comments-here/feed/")
    # the feed holds the newest 10 (of 15 approved + a pingback), newest first; we want oldest
    # first, pingback left out, parents from the "In reply to" paragraph
    assert [(c.id, c.parent_id) for c in comments] == [
        (8, None),
        (9, None),
        (10, None),
        (11, None),
        (12, None),
        (13, None),
        (14, 3),
        (15, 2),
        (18, 15),
    ]
    deep = comments[-1]
    assert deep.author == "Deep"
    assert deep.content_html == "<p>Reply to a reply</p>"  # "In reply to" removed
    assert deep.link == CAPTURED + "/2024/01/comments-here/#comment-18"
    assert deep.published_at == 1704710040.0  # 2024-01-08T10:34:00Z
    assert comments[6].content_html == "<p>Plain text reply<br />\nwith two lines</p>"

    with_pings = parse_comment_feed(body, "x", include_pingbacks=True, post_wp_id=7)
    ping = [c for c in with_pings if c.type == "pingback"]
    assert [(c.id, c.author) for c in ping] == [(16, "Another Blog")]
    assert all(c.post_wp_id == 7 for c in with_pings)


def _feed(items: str) -> bytes:
    return (
        '\ufeff\n  <?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>\n\tComments on: X\t'
        f"</title><link>http://b/?p=3</link>{items}</channel></rss>"
    ).encode()


def _item(cid: int, content: str, date: str = "Mon, 08 Jan 2024 10:00:00 +0000") -> str:
    return (
        f"<item><title>\n\t\tBy: Zoé\t\t</title><link>http://b/?p=3#comment-{cid}</link>"
        f"<dc:creator><![CDATA[Zoé]]></dc:creator><pubDate>{date}</pubDate>"
        f'<guid isPermaLink="false">http://b/?p=3#comment-{cid}</guid>'
        f"<content:encoded><![CDATA[{content}]]></content:encoded></item>"
    )


def test_comment_feed_translated_prefix_bom_and_plain_permalinks():
    body = _feed(
        _item(
            9,
            '<p>En réponse à <a href="http://b/?p=3#comment-7">Jean</a>.</p>\n<p>D’accord.</p>',
            "Mon, 08 Jan 2024 10:05:00 +0000",
        )
        + _item(
            8,
            '<p><a href="http://b/?p=3#comment-2">@Ann</a> this link is the reader\'s own words,'
            " not the prefix WordPress adds</p>",
            "Mon, 08 Jan 2024 10:04:00 +0000",
        )
        + _item(7, "<p>[…] quoted from elsewhere […]</p>", "Mon, 08 Jan 2024 10:03:00 +0000")
        + _item(6, "<p>First</p>", "Mon, 08 Jan 2024 10:02:00 +0000")
    )
    comments = parse_comment_feed(body, "http://b/?feed=rss2&p=3")
    assert [(c.id, c.parent_id, c.post_wp_id) for c in comments] == [
        (6, None, 3),
        (8, None, 3),
        (9, 7, 3),
    ]
    assert comments[0].author == "Zoé"
    assert comments[2].content_html == "<p>D’accord.</p>"
    assert comments[1].content_html.startswith('<p><a href="http://b/?p=3#comment-2">@Ann</a>')


def test_comment_feed_that_is_not_a_feed():
    with pytest.raises(WordPressError):
        parse_comment_feed(b"   ", "http://b/feed/")
    with pytest.raises(WordPressError):
        parse_comment_feed(b"<html><body>Not found</body></html>", "http://b/feed/")


async def test_rest_errors_are_wordpress_errors(fetcher):
    async def handle(request: web.Request) -> web.Response:
        if request.path.startswith("/html"):
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if request.path.startswith("/deep"):  # json.loads recurses per level
            return web.Response(text="[" * 100_000, content_type="application/json")
        return web.Response(status=500, text="boom")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    try:
        with pytest.raises(WordPressError, match="not JSON"):
            await fetch_rest_comments(fetcher, base + "/html/wp-json/", 1)
        with pytest.raises(WordPressError, match="not JSON"):
            await fetch_rest_comments(fetcher, base + "/deep/wp-json/", 1)
        with pytest.raises(WordPressError, match="500") as info:
            async for _ in iter_rest_posts(fetcher, base + "/wp-json/"):
                pass
        assert info.value.status == 500
        assert await find_rest_root(fetcher, base) is None
    finally:
        await runner.cleanup()


# =========================================================================== real WordPress


@pytest.mark.wordpress
async def test_rest_backfill_two_pages_same_keys_as_the_feed(wp_blog: WordPress, fetcher):
    base = time.time() - 30 * 86400
    ops = [
        wp_blog.post_op(
            f'Post {i}: Tom\'s "quoted" title' if i == 3 else f"Post {i}",
            content=f"<p>Body {i}</p>",
            categories=["News"] if i % 2 else ["Culture", "Science & Tech"],
            tags=[f"t{i}"] if i % 3 == 0 else [],
            author="Ada Lovelace" if i % 2 else "Émile Zola",
            featured_image=i == 5,
            date=base + i * 3600,
            guid_style="permalink" if i == 7 else "editor",
        )
        for i in range(1, 13)
    ]
    created = await wp_blog.create_posts(ops)

    root = await find_rest_root(fetcher, wp_blog.url)
    assert root == wp_blog.url + "/wp-json/"
    pages = iter_rest_posts(fetcher, root, per_page=10)
    sizes = []
    entries = []
    async for page in pages:
        sizes.append(len(page))
        entries += page
        assert pages.total == 12 and pages.total_pages == 2
    assert sizes == [10, 2]
    assert [e.wp_id for e in entries] == [p.id for p in created]  # oldest first
    for i, e in enumerate(entries, start=1):
        assert e.author == ("Ada Lovelace" if i % 2 else "Émile Zola")
        assert e.categories == (["News"] if i % 2 else ["Culture", "Science & Tech"])
        assert e.tags == ([f"t{i}"] if i % 3 == 0 else [])
        assert e.content_html.strip() == f"<p>Body {i}</p>"
    assert entries[2].title == "Post 3: Tom’s “quoted” title"  # texturized, as on the blog
    assert entries[4].image_url and entries[4].image_url.endswith(".png")
    assert entries[6].key == created[6].link  # guid = permalink for posts created published
    assert entries[0].key == f"{wp_blog.url}/?p={created[0].id}"

    # long posts: when a page passes the fetcher's size limit, smaller pages are asked for
    async with create_session(allow_private=True) as session:
        small = Fetcher(session, max_bytes=6 * 3000)
        shrinking = iter_rest_posts(small, root)
        sizes = [len(p) async for p in shrinking]
    assert sum(sizes) == 12 and shrinking.per_page in (5, 1)
    assert shrinking.total == 12

    # the RSS feed (newest 10, then ?paged=2) gives the same posts the same keys
    feed_entries = []
    for url in (wp_blog.url + "/feed/", wp_blog.url + "/feed/?paged=2"):
        r = await fetcher.get(url)
        feed_entries += parse_feed(r.body, url).entries
    assert len(feed_entries) == 12
    by_key = {e.key: e for e in feed_entries}
    assert set(by_key) == {e.key for e in entries}
    for e in entries:
        f = by_key[e.key]
        assert (f.title, f.link, f.author) == (e.title, e.link, e.author)
        assert (f.published_at, f.comments_feed) == (e.published_at, e.comments_feed)
        assert sorted(f.categories) == sorted(e.categories + e.tags)
        if e is entries[6]:  # guid = permalink: the feed does not tell the id, REST does
            assert f.wp_id is None
            assert await find_rest_post_id(fetcher, root, f.link) == e.wp_id
        else:
            assert f.wp_id == e.wp_id


async def _discussion(wp: WordPress) -> tuple[int, list[int]]:
    """A post with 12 approved comments (replies, a reply to a reply), plus a held comment,
    a spam comment and a pingback. Returns the post id and the 12 ids in the blog's order."""
    t0 = time.time() - 3600
    op = wp.comment_op
    ops = [wp.post_op("Discussion", categories=["News"])]  # op 0
    ops += [  # ops 1-8
        op(None, f"<p>Comment {i}</p>", author=f"R{i}", date=t0 + i * 60, post_ref=0)
        for i in range(1, 9)
    ]
    ops += [
        op(None, "Reply to 1", parent_ref=1, date=t0 + 600, post_ref=0),  # 9
        op(None, "Reply to 4", parent_ref=4, date=t0 + 660, post_ref=0),  # 10
        op(None, "Held", approved=False, date=t0 + 670, post_ref=0),
        op(None, "Spam", approved="spam", date=t0 + 680, post_ref=0),
        op(
            None,
            "[&#8230;] linked from elsewhere [&#8230;]",
            author="Other Blog",
            url="http://127.0.0.1/other/",
            type="pingback",
            date=t0 + 690,
            post_ref=0,
        ),
        op(None, "Reply to a reply", parent_ref=9, date=t0 + 720, post_ref=0),  # 14
        op(None, "Last one", date=t0 + 780, post_ref=0),  # 15
    ]
    made = await wp.batch(ops)
    return made[0]["id"], [made[i]["id"] for i in (*range(1, 11), 14, 15)]


@pytest.mark.wordpress
async def test_rest_comments_all_ordered_with_parents(wp_blog: WordPress, fetcher):
    post_id, ids = await _discussion(wp_blog)
    comments = await fetch_rest_comments(fetcher, wp_blog.url + "/wp-json/", post_id)
    assert [c.id for c in comments] == ids  # 12, in order; held, spam and pingback absent
    parents = {c.id: c.parent_id for c in comments}
    assert parents[ids[8]] == ids[0]
    assert parents[ids[9]] == ids[3]
    assert parents[ids[10]] == ids[8]  # a reply to a reply
    assert parents[ids[11]] is None
    assert {c.type for c in comments} == {"comment"}
    assert comments[0].author == "R1" and comments[0].post_wp_id == post_id
    assert comments[0].link.endswith(f"#comment-{ids[0]}")
    assert [
        c.id
        for c in await fetch_rest_comments(
            fetcher, wp_blog.url + "/wp-json/", post_id, after_id=ids[9]
        )
    ] == ids[10:]


@pytest.mark.wordpress
async def test_rest_comments_past_one_page(wp_blog: WordPress, fetcher):
    post = await wp_blog.create_post("Busy")
    t0 = time.time() - 7200
    made = await wp_blog.create_comments(
        [wp_blog.comment_op(post.id, f"c{i}", date=t0 + i) for i in range(105)]
    )
    comments = await fetch_rest_comments(fetcher, wp_blog.url + "/wp-json/", post.id)
    assert [c.id for c in comments] == [c.id for c in made]


@pytest.mark.wordpress
async def test_comment_feed_when_rest_is_disabled(wp_blog: WordPress, fetcher):
    post_id, ids = await _discussion(wp_blog)
    r = await fetcher.get(wp_blog.url + "/feed/")
    (entry,) = parse_feed(r.body, wp_blog.url + "/feed/").entries
    assert entry.comments_feed

    for mode in ("error", "off"):
        await wp_blog.set_rest(mode)
        assert await find_rest_root(fetcher, wp_blog.url) is None, mode
        with pytest.raises(WordPressError):
            await fetch_rest_comments(fetcher, wp_blog.url + "/wp-json/", post_id)

    assert entry.wp_id == post_id
    comments = await fetch_feed_comments(fetcher, entry.comments_feed, post_wp_id=entry.wp_id)
    # newest 10 of the feed = the pingback and the 9 newest approved: 9 comments, oldest first
    assert [c.id for c in comments] == ids[3:]
    parents = {c.id: c.parent_id for c in comments}
    assert parents[ids[8]] == ids[0]  # its parent is older than the feed's window
    assert parents[ids[9]] == ids[3]
    assert parents[ids[10]] == ids[8]
    assert parents[ids[11]] is None
    assert all("In reply to" not in c.content_html for c in comments)
    assert comments[-2].content_html == "<p>Reply to a reply</p>"
    assert all(c.post_wp_id == post_id for c in comments)
    with_pings = await fetch_feed_comments(fetcher, entry.comments_feed, include_pingbacks=True)
    assert [c.author for c in with_pings if c.type == "pingback"] == ["Other Blog"]


@pytest.mark.wordpress
async def test_plain_permalinks_use_rest_route(wp_blog: WordPress, fetcher):
    await wp_blog.set_permalinks("plain")
    post_id, ids = await _discussion(wp_blog)
    root = await find_rest_root(fetcher, wp_blog.url)
    assert root is not None and "rest_route=" in root
    (page,) = [p async for p in iter_rest_posts(fetcher, root)]
    (entry,) = page
    assert entry.wp_id == post_id and entry.link == f"{wp_blog.url}/?p={post_id}"
    assert entry.categories == ["News"]
    assert [c.id for c in await fetch_rest_comments(fetcher, root, post_id)] == ids

    r = await fetcher.get(wp_blog.url + "/?feed=rss2")
    (feed_entry,) = parse_feed(r.body, wp_blog.url + "/?feed=rss2").entries
    assert feed_entry.key == entry.key
    assert feed_entry.comments_feed == entry.comments_feed  # ?feed=rss2&p=ID
    feed_comments = await fetch_feed_comments(fetcher, entry.comments_feed)
    assert [c.id for c in feed_comments] == ids[3:]
    assert all(c.post_wp_id == post_id for c in feed_comments)  # from ?p=ID in the links


@pytest.mark.wordpress
async def test_edited_and_deleted_comments(wp_blog: WordPress, fetcher):
    op = wp_blog.comment_op
    made = await wp_blog.batch(
        [
            wp_blog.post_op("Edits"),
            op(None, "<p>Frist</p>", date=time.time() - 60, post_ref=0),
            op(None, "<p>Second</p>", post_ref=0),
            op(None, "<p>Later approved</p>", approved=False, post_ref=0),
        ]
    )
    post_id, a, b, held = (m["id"] for m in made)
    await wp_blog.batch(
        [
            {"cmd": "edit-comment", "id": a, "content": "<p>First (edited)</p>"},
            {"cmd": "delete-comment", "id": b},
        ]
    )
    root = wp_blog.url + "/wp-json/"
    got = await fetch_rest_comments(fetcher, root, post_id)
    assert [(c.id, c.content_html.strip()) for c in got] == [(a, "<p>First (edited)</p>")]
    await wp_blog.edit_comment(held, approved=True)
    got = await fetch_rest_comments(fetcher, root, post_id)
    assert [c.id for c in got] == [a, held]
    assert isinstance(got[1], Comment)
