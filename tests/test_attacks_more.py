"""Attacks by a hostile member or blog on the merged defences of issue #7, over the wire."""

from __future__ import annotations

import time

import pytest

from bot.fetch import Fetcher, FetchError, HTTPStatusError, create_session
from tests.harness import eventually
from tests.httpserver import LocalSite

UNEXPECTED = "Something went wrong"


@pytest.fixture
async def followed(gazette_world):
    """A server following a blog of three posts."""
    world = gazette_world
    blog = world.blog("Plain Blog")
    for n in range(3):
        blog.publish(f"Post number {n}", f"<p>Body {n} about tomatoes.</p>")
    await world.start()
    result = await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    await eventually(lambda: "History imported" in (result.content or ""), what="backfill")
    return world


# "²" and "١٢" are digits to str.isdigit(), not to int(); 20 digits overflow SQLite's
# integers; 5,000 digits pass Python's int-from-str limit
TYPED_IDS = ["²", "١٢", "99999999999999999999", "9" * 5000]


@pytest.mark.parametrize("typed", TYPED_IDS, ids=["superscript", "arabic", "20-digits", "5000"])
async def test_archive_post_typed_by_hand_is_a_clear_answer(followed, typed):
    result = await followed.command("archive post", {"article": typed})
    assert result.ephemeral and "No such article" in result.content


@pytest.mark.parametrize("typed", TYPED_IDS[:3], ids=["superscript", "arabic", "20-digits"])
async def test_discuss_typed_by_hand_is_a_clear_answer(followed, typed):
    result = await followed.command("discuss", {"article": typed})
    assert result.ephemeral and "No such article" in result.content


@pytest.mark.parametrize(
    "query", ['"', '"""', "NEAR(", "(", "a OR", "x AND NOT", "* ", "^x", "col:x", "-", "a" * 1000]
)
async def test_search_with_fts5_syntax_is_answered(followed, query):
    result = await followed.command("archive search", {"query": query})
    assert result.content and UNEXPECTED not in result.content


@pytest.mark.parametrize("day", ["9999-99-99", "0000-01-01", "x" * 5000, "`@everyone`"])
async def test_search_with_odd_dates_is_a_clear_answer(followed, day):
    result = await followed.command("archive search", {"query": "tomatoes", "after": day})
    assert result.ephemeral and "is not a date" in result.content


async def test_retry_after_with_a_non_ascii_digit_is_an_http_error():
    """A 503 whose Retry-After is "²" (latin-1 0xB2) is the site's error, not ours."""
    async with LocalSite() as site, create_session(allow_private=True) as session:
        site.route("/feed/", b"busy", status=503, headers={"Retry-After": "\u00b2"})
        with pytest.raises(HTTPStatusError):
            await Fetcher(session).get(site.url("/feed/"))


def test_cli_search_of_a_page_past_sqlite_integers_is_answered(tmp_path, capsys, monkeypatch):
    from bot import cli
    from tests.test_cli import CAFE, FEED

    monkeypatch.chdir(tmp_path)  # no .env of the working directory
    db = str(tmp_path / "gazette.sqlite3")
    assert cli.main(["import", str(CAFE), "--feed", FEED, "--db", db]) == 0
    capsys.readouterr()
    code = cli.main(["search", "café", "--page", str(10**20), "--db", db])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("No page ") and "there are" in out


async def test_a_feed_whose_guids_change_at_every_request_cannot_grow_the_archive_unbounded(
    tmp_path,
):
    """Every answer is ten "new" posts (guids that change at each request): the archive takes
    a day's quota of them from that feed, then nothing more until the day is over."""
    from aiohttp import web

    from bot.poller import FeedPoller
    from bot.store import Store

    requests = 0

    async def rotating(request: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        items = "".join(
            f"<item><title>Post {requests}.{n}</title><guid>urn:{requests}:{n}</guid>"
            f"<description>{'filler ' * 200}</description></item>"
            for n in range(10)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>R</title>{items}'
        return web.Response(body=body + "</channel></rss>", content_type="application/rss+xml")

    store = await Store.open(tmp_path / "gazette.sqlite3")
    try:
        async with LocalSite() as site, create_session(allow_private=True) as session:
            site.route("/feed/", handler=rotating)
            poller = FeedPoller(store, Fetcher(session), default_interval=60, max_new_per_day=25)
            result = await poller.subscribe(site.url("/feed/"), guild_id=1, channel_id=10)
            for _ in range(6):
                await store._write(
                    "UPDATE feeds SET next_check_at = 0 WHERE id = ?",
                    (result.subscription.feed_id,),
                )
                await poller.poll_due()
            assert requests == 7  # the feed was read every time ...
            # ... but stored only up to its quota (without it: 70 posts)
            assert await store.count_posts(result.subscription.feed_id) == 25
    finally:
        await store.close()


async def test_share_cannot_be_pressed_into_a_flood(followed):
    """Share posts publicly as the bot (which slowmode does not hold back): a member pressing
    it again and again gets a few shares, then a short ephemeral "slow down"."""
    from tests.test_archive_wire import button

    world = followed
    result = await world.command("archive search", {"query": "tomatoes"})
    share = button(result.messages[-1], "Share 1")["custom_id"]
    answers = [await world.fake.click(result, share) for _ in range(8)]
    shared = [m for m in world.fake.messages(world.text) if "shared from" in m["content"]]
    assert len(shared) == 3
    assert all(a.ephemeral for a in answers)
    assert "Slow down" in answers[-1].content


# host names no DNS takes: yarl and the resolver raise UnicodeError on them
BAD_HOSTS = ["xn--", "a" * 64 + ".example"]


@pytest.mark.parametrize("host", BAD_HOSTS, ids=["empty-punycode", "64-letter-label"])
async def test_feed_add_of_a_host_name_no_dns_takes_is_a_clear_answer(gazette_world, host):
    world = gazette_world
    await world.start()
    result = await world.command("feed add", {"url": f"http://{host}/", "channel": world.text})
    assert result.ephemeral and "not a valid URL" in result.content


@pytest.mark.parametrize("allow_private", [True, False], ids=["any-address", "public-only"])
async def test_a_redirect_to_a_host_name_no_dns_takes_is_a_fetch_error(allow_private):
    async with (
        LocalSite() as site,
        create_session(allow_private=allow_private, allow_hosts=["127.0.0.1"]) as session,
    ):
        site.redirect("/feed/", f"http://{BAD_HOSTS[1]}/feed/")
        with pytest.raises(FetchError, match="invalid host name|not a valid URL"):
            await Fetcher(session).get(site.url("/feed/"))


@pytest.mark.parametrize("namespaces", [5, True, None])
async def test_a_rest_root_with_namespaces_of_the_wrong_shape_is_no_rest_root(namespaces):
    from aiohttp import web

    from bot.wordpress import find_rest_root

    async def root(request: web.Request) -> web.Response:
        return web.json_response({"name": "B", "namespaces": namespaces})

    async with LocalSite() as site, create_session(allow_private=True) as session:
        site.route("/wp-json/", handler=root)
        assert await find_rest_root(Fetcher(session), site.url("/")) is None


@pytest.mark.parametrize(
    ("link", "answer", "expected"),
    [
        ("/?p=9999999999999999999", None, None),  # 19 digits, over SQLite's integers
        ("/?p=\u0661\u0662", None, None),  # Arabic-Indic digits: \d takes them, WordPress not
        ("/a-post/", [{"id": 10**30, "link": "/a-post/"}], None),
        ("/a-post/", [{"id": 7, "link": 5}], 7),  # the only answer to the slug: taken
        ("/a-post/", [{"id": 7, "link": ["/a-post/"]}, {"id": 8}], None),
    ],
    ids=["19-digit-p", "arabic-p", "10**30-id", "int-link", "list-link"],
)
async def test_a_post_id_lookup_takes_only_ids_the_store_can_hold(link, answer, expected):
    """The REST id of a post, looked up to read its comments: a blog can claim anything."""
    from aiohttp import web

    from bot.wordpress import find_rest_post_id

    async def posts(request: web.Request) -> web.Response:
        return web.json_response({"body": answer, "status": 200, "headers": {}})

    async with LocalSite() as site, create_session(allow_private=True) as session:
        site.route("/wp-json/wp/v2/posts", handler=posts)
        found = await find_rest_post_id(Fetcher(session), site.url("/wp-json/"), site.url(link))
        assert found == expected


def test_a_home_page_with_a_long_attribute_name_is_read_at_once():
    """The home page's <link rel="https://api.w.org/"> is looked for by the comment reader
    and backfill, on the event loop: 200 KB of letters with no "=" in a <link> took the
    attribute regex ~7 minutes (quadratic; 500 KB: 45), holding every server's bot. In a
    child process: the regex holds the GIL, so only a process can be stopped."""
    import subprocess
    import sys

    code = (
        "from bot.wordpress import _links_in_html\n"
        "page = b'<html><head><link ' + b'a' * 200_000"
        ' + b\'><link rel="https://api.w.org/" href="/wp-json/">\'\n'
        "print(_links_in_html(page))\n"
    )
    # a hang guard far above the milliseconds it takes
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['/wp-json/']", done.stderr


async def test_a_check_reads_only_the_newest_keys_and_still_announces_nothing_twice(tmp_path):
    """A check reads the keys of the feed's newest posts only (a history of 50,000 keys of
    2 KB each would be 100 MB at every check): the older posts the feed still shows are
    found stored, neither announced again nor counted against the day's quota."""
    from bot.poller import FeedPoller
    from bot.store import Store
    from tests.blog import Blog

    store = await Store.open(tmp_path / "gazette.sqlite3")
    try:
        async with LocalSite() as site, create_session(allow_private=True) as session:
            blog = Blog(site)
            for n in range(10):
                blog.publish(f"Old post {n}")
            poller = FeedPoller(
                store, Fetcher(session), default_interval=60, known_keys_read=3, max_new_per_day=12
            )
            result = await poller.subscribe(blog.feed_url, guild_id=1, channel_id=10)
            feed_id = result.subscription.feed_id
            for n in range(2):
                blog.publish(f"New post {n}")
                await store._write("UPDATE feeds SET next_check_at = 0 WHERE id = ?", (feed_id,))
                report = await poller.poll_due()
                assert report.new_posts == 1 and report.archived_silently == 0
            owed = [
                (await store.get_post(d.post_id)).title
                for d in await store.due_deliveries(time.time() + 1)
            ]
            assert sorted(owed) == ["New post 0", "New post 1"]
            assert await store.count_posts(feed_id) == 12
    finally:
        await store.close()


@pytest.mark.parametrize("html", ["<pre>\r</pre>", "<pre>a\rb</pre>", "<code>a\r\nb</code>"])
def test_a_carriage_return_in_preformatted_text_becomes_a_newline(html):
    """Found by the hypothesis test of render (a CR in <pre> reached Discord as is)."""
    from bot.render import html_to_markdown

    assert "\r" not in html_to_markdown(html)
