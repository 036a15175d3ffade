"""No blog can hurt Gazette (issue #7), over the wire.

Two servers share one Gazette: "Readers" (the harness's guild) follows a hostile blog
(tests/hostile.py) in #blog; "Healthy" follows an ordinary WordPress blog. For every attack:
the hostile server gets at most one clear notice, the healthy server's new posts and comments
keep arriving while the attack runs, nothing from the hostile blog pings anyone or breaks out
of its markdown, and the test process's memory stays in bounds.

The bot is configured as in production except for loopback: private addresses are refused
but 127.0.0.1 is allowed by name (so a redirect to `localhost`, 10.0.0.1 or 169.254.169.254
is refused by address), and fetch timeouts are short so the file runs quickly.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import limits
from bot.wordpress import parse_comment_feed
from tests.discussion_helpers import WPBlog, history_imported, mirrored
from tests.harness import World, eventually, settle
from tests.hostile import MASKED_LINK, NESTING, RLO, HostileBlog, RawSite, deep_html
from tests.httpserver import LocalSite

FETCH = {"connect_timeout": 2.0, "read_timeout": 2.0, "total_timeout": 5.0}
MENTION = re.compile(r"<(@[!&]?|#)\d+>")
UNESCAPED_MASKED_LINK = re.compile(r"(?<!\\)\[[^\[\]]*(?<!\\)\]\(<?https?://evil\.test")
MAX_GROWTH_MIB = 100

# embedding and override controls open (LRE, RLE, LRO, RLO; LRI, RLI, FSI), and their ends
_BIDI_OPEN = {"\u202a", "\u202b", "\u202d", "\u202e"}
_ISOLATE_OPEN = {"\u2066", "\u2067", "\u2068"}


# =========================================================================== measuring


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


class Memory:
    """Peak RSS of this process since `start()`, in MiB (Linux: VmHWM reset by clear_refs)."""

    def start(self) -> None:
        # resets the high-water mark; where it cannot, the peak is the process's whole life:
        # looser, never wrong
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        self.base = _status("VmRSS")

    def growth(self) -> float:
        return _status("VmHWM") - self.base


# =========================================================================== what users see


def texts(message: dict) -> list[str]:
    """Every text of a message a reader sees: content, embed title, description, fields..."""
    out = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        out += [embed.get("title") or "", embed.get("description") or ""]
        out += [(embed.get("author") or {}).get("name") or ""]
        out += [(embed.get("footer") or {}).get("text") or ""]
        for f in embed.get("fields") or []:
            out += [f.get("name") or "", f.get("value") or ""]
    author = message.get("author") or {}
    if message.get("webhook_id"):
        out.append(author.get("username") or "")
    return out


def bidi_contained(text: str) -> bool:
    """Every embedding or override the text opens is closed on its own line, by its PDF or
    by the end of an isolate around it (Unicode's bidi algorithm ends all at a newline)."""
    for line in text.split("\n"):
        stack: list[str] = []
        for ch in line:
            if ch in _BIDI_OPEN:
                stack.append("embed")
            elif ch == "\u202c" and stack and stack[-1] == "embed":
                stack.pop()
            elif ch in _ISOLATE_OPEN:
                stack.append("isolate")
            elif ch == "\u2069" and "isolate" in stack:
                while stack.pop() != "isolate":
                    pass
        if stack:
            return False
    return True


def assert_harmless(world: World, message: dict) -> None:
    """Nothing pings, no masked link from the blog, within Discord's limits."""
    request = world.fake.message_request(int(message["id"]))
    allowed = request.get("allowed_mentions") or {}
    assert allowed.get("parse") == [] and not allowed.get("roles"), allowed
    assert message.get("mention_everyone") is False
    assert not message.get("mention_roles") and not message.get("mentions")
    for text in texts(message):
        assert "@everyone" not in text and "@here" not in text, text[:300]
        assert not MENTION.search(text), text[:300]
        assert not UNESCAPED_MASKED_LINK.search(text), text[:300]
        assert bidi_contained(text), text[:300]
    assert len(message.get("content") or "") <= 2000


async def thread_of(world: World, message: dict) -> int:
    """The id of the thread opened on an announcement, once it exists."""
    return await eventually(
        lambda: world.fake.has_channel(int(message["id"])) and int(message["id"]),
        what="the announcement's thread",
    )


# =========================================================================== the arena


@dataclass
class Arena:
    world: World
    hostile_site: LocalSite
    blog: HostileBlog
    healthy: WPBlog
    healthy_guild: int
    healthy_channel: int
    memory: Memory
    hostile_feed: int | None = None
    _healthy_n: int = 0

    # -- the hostile server ----------------------------------------------------------------

    async def follow(self, url: str | None = None):
        """/feed add in the hostile server; returns the interaction's result.

        A feed that was followed becomes `hostile_feed` (once its history is imported)."""
        before = await self.world.store.guild_subscriptions(self.world.guild)
        result = await self.world.command(
            "feed add", {"url": url or self.blog.feed_url, "channel": self.world.text}
        )
        await eventually(lambda: result.messages, what="the answer to /feed add")
        subs = await self.world.store.guild_subscriptions(self.world.guild)
        if len(subs) > len(before):
            self.hostile_feed = subs[-1].feed_id
            await history_imported(result)
        return result

    async def check_hostile(self, attack: str, times: int = 1, blog=None) -> None:
        """Make the hostile feed due `times` times, each after the previous check ended."""
        blog = blog or self.blog
        for _ in range(times):
            before = await self.world.store.get_feed(self.hostile_feed)
            served = blog.served[attack]
            await self.world.store._write(
                "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (self.hostile_feed,)
            )

            async def checked(before=before, served=served):
                feed = await self.world.store.get_feed(self.hostile_feed)
                return blog.served[attack] > served and (
                    feed.last_checked_at != before.last_checked_at
                    or feed.failure_count != before.failure_count
                )

            # parsing 50,000 items takes a while on a loaded machine
            await eventually(checked, within=FETCH["total_timeout"] + 25, what=f"{attack} checked")

    def messages(self) -> list[dict]:
        """What the bot posted in the hostile server's channel and its threads."""
        out = list(self.world.fake.messages(self.world.text))
        for thread in self.world.fake.threads(self.world.text):
            out += self.world.fake.messages(int(thread["id"]))
        return out

    def notices(self) -> list[dict]:
        """The bot's messages in the hostile server's channel that are not announcements."""
        return [m for m in self.world.fake.messages(self.world.text) if not m.get("embeds")]

    def assert_contained(self) -> None:
        for message in self.messages():
            assert_harmless(self.world, message)
        assert len(self.notices()) <= 1
        assert self.memory.growth() < MAX_GROWTH_MIB, f"{self.memory.growth():.0f} MiB more"

    # -- the healthy server ----------------------------------------------------------------

    async def healthy_flows(self) -> None:
        """A new post on the healthy blog is announced, and a comment on it mirrored."""
        self._healthy_n += 1
        world, title = self.world, f"Healthy news {self._healthy_n}"
        post = self.healthy.publish(title)
        for sub in await world.store.guild_subscriptions(self.healthy_guild):
            await world.store._write(
                "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (sub.feed_id,)
            )

        def announced():
            return [
                m
                for m in world.fake.messages(self.healthy_channel)
                if m.get("embeds") and m["embeds"][0]["title"] == title
            ]

        [message] = await eventually(announced, what=f"{title!r} announced")
        thread = await thread_of(world, message)
        comment = self.healthy.comment(post, f"<p>Reply {self._healthy_n}</p>")
        await world.store.schedule_comment_checks(0)
        await eventually(
            lambda: any(
                f"Reply {self._healthy_n}" in m["content"] for m in mirrored(world, thread)
            ),
            what=f"comment {comment.id} mirrored",
        )


@pytest.fixture
async def arena(gazette_world, tmp_path):
    world = gazette_world
    world.global_commands = True
    world.allow_private = False
    world.allow_hosts = ("127.0.0.1",)
    world.fetcher_options = dict(FETCH)
    world.poll_interval = 10  # the smallest POLL_INTERVAL allowed
    guild = world.fake.add_guild("Healthy")
    channel = world.fake.add_channel(guild, "news")
    healthy = WPBlog(world.site)
    healthy.publish("Healthy history")
    async with LocalSite() as hostile_site:
        blog = HostileBlog(
            hostile_site,
            trickle=0.5,
            page_delay=0.2,
            secret_url=f"http://localhost:{hostile_site.port}/secret/feed/",
        )
        blog.publish("An honest start")
        memory = Memory()
        memory.start()
        await world.start()
        result = await world.fake.invoke(
            guild, channel, "feed add", {"url": healthy.feed_url, "channel": channel}
        )
        await history_imported(result)
        yield Arena(world, hostile_site, blog, healthy, guild, channel, memory)
        await world.stop()


async def turned(arena: Arena, attack: str, checks: int = 1, blog=None) -> None:
    """Follow the honest blog, then turn it: its feed serves `attack`, checked `checks` times."""
    blog = blog or arena.blog
    await arena.follow(blog.feed_url)
    blog.attack(attack)
    await arena.check_hostile(attack, checks, blog)


# =========================================================================== attacks on the fetch


@pytest.mark.parametrize("attack", ["endless", "gzip_bomb", "brotli_bomb"])
async def test_bodies_too_big_to_read_cost_one_notice_and_nothing_else(arena, attack):
    await turned(arena, attack, checks=3)
    [notice] = await eventually(arena.notices, what="the failing notice")
    assert "Hostile Blog" in notice["content"]
    await arena.healthy_flows()
    await arena.check_hostile(attack, 2)  # still failing: no second notice
    await settle(0.3)
    arena.assert_contained()
    assert arena.world.announcements() == []
    # brotli is not advertised unless this venv can decode it
    asked = arena.hostile_site.requests_for("/feed/")[-1].headers.get("Accept-Encoding", "")
    assert "gzip" in asked


async def test_a_feed_served_with_the_wrong_content_type_is_still_read(arena):
    await turned(arena, "wrong_content_type")
    [message] = await eventually(arena.world.announcements, what="the post announced")
    assert message["embeds"][0]["title"] == "Served as a picture"
    await arena.healthy_flows()
    arena.assert_contained()


async def test_redirects_in_a_loop_or_to_private_addresses_are_refused(arena):
    world, blog = arena.world, arena.blog
    looping = await arena.follow(blog.url_of("redirect_loop"))
    assert "redirect" in looping.messages[-1]["content"]
    # the hostile blog names an internal address: never fetched, whatever the name
    for target in (
        f"http://localhost:{arena.hostile_site.port}/secret/feed/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/feed/",
        "http://[::ffff:127.0.0.2]/feed/",
    ):
        blog.secret_url = target
        refused = await arena.follow(blog.url_of("redirect_private"))
        assert "private address" in refused.messages[-1]["content"], target
    blog.secret_url = "file:///etc/passwd"
    refused = await arena.follow(blog.url_of("redirect_private"))
    assert "not http(s)" in refused.messages[-1]["content"]
    assert blog.served["secret"] == 0
    assert await world.store.guild_subscriptions(world.guild) == []

    # a followed feed that later redirects inside the network fails; nothing leaks
    blog.secret_url = f"http://localhost:{arena.hostile_site.port}/secret/feed/"
    await turned(arena, "redirect_private", checks=3)
    await eventually(arena.notices, what="the failing notice")
    await arena.healthy_flows()
    assert blog.served["secret"] == 0
    assert not any("SECRET" in t for m in arena.messages() for t in texts(m))
    arena.assert_contained()


async def test_odd_but_honest_http_is_read_and_malformed_http_fails_cleanly(arena):
    async with RawSite() as raw:
        feed = arena.blog.rss()
        raw.http10("/old/feed/", feed)
        raw.huge_headers("/huge/feed/", feed)
        old = await arena.follow(raw.url("/old/feed/"))
        assert "Hostile Blog" in old.messages[-1]["content"]  # read to the connection's end
        huge = await arena.follow(raw.url("/huge/feed/"))
        assert (
            "malformed" in huge.messages[-1]["content"]
            or "could not" in huge.messages[-1]["content"]
        )
        assert "Traceback" not in huge.messages[-1]["content"]
    await arena.healthy_flows()
    arena.assert_contained()


async def test_a_feed_trickling_a_byte_a_second_holds_up_no_other_server(arena):
    await arena.follow()
    arena.world.bot.fetcher.total_timeout = 30.0  # the slow answer outlasts the test
    arena.blog.attack("slowloris")
    await arena.world.store._write(
        "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (arena.hostile_feed,)
    )
    await eventually(lambda: arena.blog.in_flight["slowloris"], what="the slowloris answering")
    await arena.healthy_flows()
    # posted while the slow answer was still trickling in
    assert arena.blog.in_flight["slowloris"] == 1
    arena.assert_contained()


# =========================================================================== attacks on parsing


async def test_entities_expanding_in_the_prolog_are_refused_or_bounded(arena):
    await turned(arena, "entity_expansion", checks=1)
    await settle(0.3)
    keys = await arena.world.store.known_keys(arena.hostile_feed)
    assert all(len(k) <= limits.MAX_ENTRY_KEY for k in keys)
    post = await arena.world.store.latest_post(arena.hostile_feed)
    assert len(post.title) <= limits.MAX_TITLE
    assert len(post.summary_html) <= limits.MAX_POST_HTML
    await arena.healthy_flows()
    arena.assert_contained()


async def test_a_5_mb_post_is_stored_cut_and_announced_within_limits(arena):
    await turned(arena, "big_entry")
    [message] = await eventually(arena.world.announcements, what="the big post announced")
    assert message["embeds"][0]["title"] == "A 5 MB post"
    post = await arena.world.store.latest_post(arena.hostile_feed)
    assert len(post.content_html) <= limits.MAX_POST_HTML
    await arena.healthy_flows()
    arena.assert_contained()


async def test_invalid_utf8_and_a_1_mb_attribute_are_announced_within_limits(arena):
    await turned(arena, "invalid_utf8")
    arena.blog.attack("big_attribute")
    await arena.check_hostile("big_attribute")
    titles = await eventually(
        lambda: (
            len(arena.world.announcements()) == 2
            and [m["embeds"][0]["title"] for m in arena.world.announcements()]
        ),
        what="both posts announced",
    )
    assert titles[0].startswith("Broken") and titles[1] == "One big attribute"
    assert "A modest paragraph." in arena.world.announcements()[1]["embeds"][0]["description"]
    await arena.healthy_flows()
    arena.assert_contained()


async def test_a_comment_feed_naming_a_local_file_reads_nothing(arena, tmp_path):
    world, blog = arena.world, arena.blog
    secret = tmp_path / "secret-comments.xml"
    secret.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>'
        "<item><title>By: Insider</title>"
        f"<link>{blog.url('/1/#comment-77')}</link><description>SECRET from the disk"
        "</description></item></channel></rss>"
    )
    # no REST API: comments come from the feed, whose body names a file
    arena.hostile_site.route(blog.path("/wp-json/"), status=404)
    await arena.follow()
    post = blog.publish("Read my comments")  # new since the feed was followed: announced
    await world.store._write(
        "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (arena.hostile_feed,)
    )
    [message] = await eventually(world.announcements, what="the post announced")
    thread = await thread_of(world, message)
    blog.comments_attack(post, "file_path", path=str(secret))
    await world.store.schedule_comment_checks(0)
    await eventually(lambda: blog.served["comments:file_path"], what="the comment feed read")
    blog.comments_attack(post, "file_path", path="/etc/hostname")
    await world.store.schedule_comment_checks(0)
    await eventually(lambda: blog.served["comments:file_path"] > 1)
    await arena.healthy_flows()
    assert not any("SECRET" in t for m in mirrored(world, thread) for t in texts(m))
    assert mirrored(world, thread) == []  # hostname or file: nothing was taken for comments
    arena.assert_contained()


def _comment_feeds_open_paths(tmp_path) -> bool:
    """Whether parse_comment_feed opens a body that names a file (safe to ask: a tiny file)."""
    probe = tmp_path / "probe.xml"
    probe.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>p</title><item>'
        "<link>http://x.test/1/#comment-1</link><description>p</description></item>"
        "</channel></rss>"
    )
    try:
        return bool(parse_comment_feed(str(probe).encode(), "http://x.test/1/feed/"))
    except Exception:
        return False


async def test_a_comment_feed_of_dev_zero_reads_nothing(arena, tmp_path):
    if _comment_feeds_open_paths(tmp_path):
        # skipped, not xfail-marked: without the fix the parse thread reads /dev/zero until
        # the machine runs out of memory, and --runxfail would run it
        pytest.skip("needs i7-parse: comment feeds parsed from a stream (would read /dev/zero)")
    world, blog = arena.world, arena.blog
    arena.hostile_site.route(blog.path("/wp-json/"), status=404)
    await arena.follow()
    post = blog.publish("Zero comments")
    await world.store._write(
        "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (arena.hostile_feed,)
    )
    await eventually(world.announcements, what="the post announced")
    blog.comments_attack(post, "file_path", path="/dev/zero")
    for n in (1, 2):
        await world.store.schedule_comment_checks(0)
        await eventually(lambda n=n: blog.served["comments:file_path"] >= n)
    await arena.healthy_flows()
    arena.assert_contained()


async def test_a_feed_of_50000_new_items_at_every_request_announces_a_few(arena):
    await turned(arena, "many_items")
    await arena.healthy_flows()
    await settle(0.5)
    announced = arena.world.announcements()
    feed = await arena.world.store.get_feed(arena.hostile_feed)
    # read and capped, or refused whole as too costly to parse (with the reason shown in
    # /feed list): a few announcements at most either way
    assert len(announced) <= limits.MAX_ANNOUNCE_PER_POLL
    assert announced or "XML elements" in (feed.last_error or "")
    arena.assert_contained()


# =========================================================================== attacks on rendering


async def test_500_nested_tags_in_a_post_and_a_comment_render(arena):
    world, blog = arena.world, arena.blog
    await turned(arena, "deep_nesting")
    [message] = await eventually(world.announcements, what="the nested post announced")
    assert "deep" in message["embeds"][0]["description"]
    thread = await thread_of(world, message)
    post = blog._attack_posts["deep_nesting"]
    blog.comment(post, deep_html(NESTING, "nested comment"), author="Nester")
    blog.comment(post, "<p>The comment after it</p>", author="Next")
    await world.store.schedule_comment_checks(0)
    got = await eventually(lambda: len(mirrored(world, thread)) == 2 and mirrored(world, thread))
    assert "nested comment" in got[0]["content"] and "after it" in got[1]["content"]
    await arena.healthy_flows()
    arena.assert_contained()


async def test_mentions_and_masked_links_in_titles_and_text_stay_text(arena):
    await turned(arena, "mentions")
    [message] = await eventually(arena.world.announcements, what="the post announced")
    assert "Free Nitro" in message["embeds"][0]["title"]
    thread = arena.world.fake.channel(await thread_of(arena.world, message))
    assert "@everyone" not in thread["name"]
    await arena.healthy_flows()
    arena.assert_contained()


async def test_a_right_to_left_override_stays_inside_the_title(arena):
    await turned(arena, "rtl_title")
    [message] = await eventually(arena.world.announcements, what="the post announced")
    thread = arena.world.fake.channel(await thread_of(arena.world, message))
    assert bidi_contained(thread["name"])
    arena.assert_contained()
    assert RLO not in message["embeds"][0]["title"] or bidi_contained(message["embeds"][0]["title"])


async def test_a_commenter_named_discordiscord_is_mirrored_and_so_are_the_next(arena):
    world, blog = arena.world, arena.blog
    await arena.follow()
    post = blog.publish("Names")
    await world.store._write(
        "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (arena.hostile_feed,)
    )
    [message] = await eventually(world.announcements, what="the post announced")
    thread = await thread_of(world, message)
    blog.comment(post, "<p>first</p>", author="discordiscord")
    blog.comment(post, f"<p>{MASKED_LINK} second</p>", author="clydeclyde @everyone")
    await world.store.schedule_comment_checks(0)
    got = await eventually(lambda: len(mirrored(world, thread)) == 2 and mirrored(world, thread))
    assert "first" in got[0]["content"] and "second" in got[1]["content"]
    for m in got:
        name = m["author"]["username"].lower()
        assert "discord" not in name and "clyde" not in name
    await arena.healthy_flows()
    arena.assert_contained()


# =========================================================================== attacks on notices


@pytest.mark.parametrize("attack", ["markdown_error", "huge_error"])
async def test_an_error_text_from_the_blog_is_escaped_and_cut_in_its_one_notice(arena, attack):
    # a blog with no posts yet: its next body is parsed whole, and the parser's complaint
    # quotes the encoding the body declares
    quiet = HostileBlog(arena.hostile_site, "/quiet", title="Quiet Blog")
    await turned(arena, attack, checks=3, blog=quiet)
    [notice] = await eventually(arena.notices, what="the failing notice")
    assert len(notice["content"]) <= 2000
    await arena.check_hostile(attack, 2, quiet)
    await arena.healthy_flows()
    arena.assert_contained()


async def test_a_feed_declaring_an_unknown_encoding_gets_a_clear_notice(arena):
    await turned(arena, "huge_error", checks=3)  # a known blog: the pre-scan reads it
    [notice] = await eventually(arena.notices, what="the failing notice")
    assert "internal error" not in notice["content"]
    assert len(notice["content"]) <= 2000
    feed = await arena.world.store.get_feed(arena.hostile_feed)
    assert len(feed.last_error) <= limits.MAX_ERROR  # kept cut, as /feed list shows it
    arena.assert_contained()


# =========================================================================== attacks on budgets


async def test_a_page_of_300_feed_links_costs_a_handful_of_requests(arena):
    result = await arena.follow(arena.blog.url("/links/"))
    assert "Traceback" not in result.messages[-1]["content"]
    tried = [r for r in arena.hostile_site.requests if r.path.startswith("/links/")]
    assert len(tried) <= limits.MAX_DISCOVERY_CANDIDATES + 2
    await arena.healthy_flows()
    arena.assert_contained()


async def test_a_rest_answer_of_10000_slow_pages_holds_up_no_other_comments(arena):
    world, blog = arena.world, arena.blog
    await arena.follow()
    post = blog.publish("Endless discussion")
    await world.store._write(
        "UPDATE feeds SET next_check_at = 0 WHERE id = ?", (arena.hostile_feed,)
    )
    await eventually(world.announcements, what="the post announced")
    blog.comment(post, "<p>honest</p>")
    blog.rest_attack("many_pages")
    await world.store.schedule_comment_checks(0)
    await eventually(lambda: blog.in_flight["many_pages"], what="the hostile pages being read")
    await arena.healthy_flows()
    assert blog.in_flight["many_pages"]  # the healthy comment came while it was read
    # and a read stops at the page cap
    await eventually(
        lambda: not blog.in_flight["many_pages"],
        within=limits.COMMENT_MAX_PAGES * 0.3 + 5,
        what="the hostile read to stop",
    )
    # the first page and the newest ones: comments written now still come through
    assert len(blog.pages_served) <= limits.COMMENT_MAX_PAGES
    newest = range(10_000 - limits.COMMENT_MAX_PAGES, 10_001)
    assert all(page == 1 or page in newest for page in blog.pages_served)
    arena.assert_contained()
