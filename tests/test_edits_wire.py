"""Announcements follow the article (EDIT_WINDOW_DAYS): over the wire, the real bot against the
fake Discord and a blog on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time

from bot.render.announcement import REMOVED_NOTE
from tests.fakediscord import Perm
from tests.harness import eventually as _eventually
from tests.harness import settle


def eventually(check, within: float = 10.0, what: str = "condition"):
    """The harness's, with room for a crowded machine (each step is a poll, then edits)."""
    return _eventually(check, within, what)


def edits_of(world, message_id: int) -> list[dict]:
    return world.fake.message_request(message_id).get("edits", [])


def renames(world, thread_id: int) -> list:
    return world.fake.requests_to("PATCH", f".*/channels/{thread_id}")


async def follow(world, blog, channel=None, **options):
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": channel or world.text})
    await settle(0.3)


async def announce(world, blog, title, channel=None, **fields):
    post = blog.publish(title, **fields)
    await world.poll_now()
    channel = channel or world.text
    if channel == world.forum:
        threads = await eventually(
            lambda: [t for t in world.fake.threads(channel) if t["name"] == title],
            what="the forum post",
        )
        return post, int(threads[0]["id"]), int(threads[0]["id"])
    message = await eventually(
        lambda: next(
            (m for m in world.announcements(channel) if m["embeds"][0]["title"] == title), None
        ),
        what="the announcement",
    )
    thread = await eventually(
        lambda: next((t for t in world.fake.threads(channel) if t["id"] == message["id"]), None),
        what="its thread",
    )
    return post, int(message["id"]), int(thread["id"])


def serve_rest(world, blog, answers: dict[int, tuple[int, dict]]) -> None:
    """A WordPress REST API on the blog's site: the index, and `answers` per post id
    (HTTP status inside the _envelope, body)."""
    world.site.route(
        "/wp-json/", json.dumps({"namespaces": ["wp/v2"]}), content_type="application/json"
    )
    for wp_id, (status, body) in answers.items():
        world.site.route(
            f"/wp-json/wp/v2/posts/{wp_id}",
            json.dumps({"status": status, "headers": {}, "body": body}),
            content_type="application/json",
        )


async def test_title_change_edits_the_announcement_and_the_thread_name(gazette_world):
    world = gazette_world
    blog = world.blog()
    blog.publish("Already there")
    await follow(world, blog)
    post, message_id, thread_id = await announce(world, blog, "Fresh news", categories=["News"])

    post.title, post.categories, post.image = (
        "Fresh news, corrected",
        ["Travel"],
        "https://img.test/b.png",
    )
    blog.serve()
    await world.poll_now()
    await eventually(lambda: edits_of(world, message_id), what="the edit")
    message = world.fake.message(message_id)
    embed = message["embeds"][0]
    assert embed["title"] == "Fresh news, corrected"
    assert embed["image"]["url"] == "https://img.test/b.png"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Categories"] == "Travel"
    await eventually(
        lambda: world.fake.channel(thread_id)["name"] == "Fresh news, corrected",
        what="the thread renamed",
    )
    # edited, not announced again; an edit pings nobody
    assert [m["embeds"][0]["title"] for m in world.announcements()] == ["Fresh news, corrected"]
    assert edits_of(world, message_id)[0]["allowed_mentions"]["parse"] == []

    # the same feed again, and a change the announcement does not show: nothing edited
    await world.poll_now()
    post.html = post.html  # same shown fields, new bytes elsewhere (the author)
    post.author = "Someone Else"
    blog.serve()
    await world.poll_now()
    await settle()
    assert len(edits_of(world, message_id)) == 1
    assert len(renames(world, thread_id)) == 1


async def test_a_forum_post_gets_its_starter_message_and_title_edited(gazette_world):
    world = gazette_world
    blog = world.blog()
    await follow(world, blog, channel=world.forum)
    post, message_id, thread_id = await announce(
        world, blog, "Forum article", channel=world.forum, categories=["News"]
    )
    post.title, post.categories = "Forum article (updated)", ["Travel"]
    blog.serve()
    await world.poll_now()
    await eventually(
        lambda: world.fake.channel(thread_id)["name"] == "Forum article (updated)",
        what="the forum post renamed",
    )
    await eventually(lambda: edits_of(world, message_id), what="the starter message edited")
    assert world.fake.message(message_id)["embeds"][0]["title"] == "Forum article (updated)"
    forum_tags = {t["name"]: t["id"] for t in world.fake.channel(world.forum)["available_tags"]}
    assert world.fake.channel(thread_id)["applied_tags"] == [forum_tags["Travel"]]


async def test_blog_text_in_an_edit_cannot_ping_or_break_out(gazette_world):
    world = gazette_world
    blog = world.blog()
    await follow(world, blog)
    post, message_id, thread_id = await announce(world, blog, "Calm title")
    post.title = f"@everyone <@&{world.role}> **loud** [x](https://evil.test)"
    post.html = "<p>@here see <a href='https://e.test'>this</a></p>"
    blog.serve()
    await world.poll_now()
    [edit] = await eventually(lambda: edits_of(world, message_id), what="the edit")
    assert edit["allowed_mentions"]["parse"] == []
    message = world.fake.message(message_id)
    assert message["mention_everyone"] is False and message["mention_roles"] == []
    title = message["embeds"][0]["title"]
    assert "\\*\\*loud\\*\\*" in title and "@\u200beveryone" in title
    name = await eventually(
        lambda: (
            world.fake.channel(thread_id)["name"] != "Calm title"
            and world.fake.channel(thread_id)["name"]
        ),
        what="the thread renamed",
    )
    assert not re.search(r"<@&\d", name) and "@everyone" not in name  # as when it was made


async def test_a_post_that_left_the_feed_is_left_alone_without_rest(gazette_world):
    world = gazette_world
    blog = world.blog()
    await follow(world, blog)
    post, message_id, _ = await announce(world, blog, "Soon gone")
    blog.posts.remove(post)
    blog.publish("Another")
    await world.poll_now()
    await eventually(lambda: len(world.announcements()) == 2, what="the next announcement")
    await settle()
    assert edits_of(world, message_id) == []
    assert world.fake.message(message_id)["embeds"][0]["title"] == "Soon gone"


async def test_a_post_rest_says_is_gone_is_marked_removed_not_deleted(gazette_world):
    world = gazette_world
    blog = world.blog()
    serve_rest(world, blog, {})  # the site has a REST API from the start
    await follow(world, blog)
    gone, gone_message, gone_thread = await announce(world, blog, "Trashed one")
    kept, kept_message, _ = await announce(world, blog, "Out of the window")
    deleted, deleted_message, _ = await announce(world, blog, "Deleted one")
    unknown, unknown_message, _ = await announce(world, blog, "Not in its API")
    serve_rest(
        world,
        blog,
        {
            gone.wp_id: (401, {"code": "rest_forbidden", "message": "Sorry, you are not allowed"}),
            kept.wp_id: (200, {"id": kept.wp_id, "status": "publish"}),
            deleted.wp_id: (404, {"code": "rest_post_invalid_id", "message": "Invalid post ID."}),
        },
    )
    # "Not in its API": a plain 404 page, not WordPress's answer: proves nothing
    for post in (gone, kept, deleted, unknown):
        blog.posts.remove(post)
    blog.serve()
    await world.poll_now()
    for message_id in (gone_message, deleted_message):
        await eventually(lambda m=message_id: edits_of(world, m), what="marked removed")
        embed = world.fake.message(message_id)["embeds"][0]
        assert embed["title"].startswith("[Removed] ")
        assert embed["description"] == REMOVED_NOTE
        assert "url" not in embed or not embed["url"]
    await eventually(
        lambda: world.fake.channel(gone_thread)["name"] == "[Removed] Trashed one",
        what="the thread renamed",
    )
    await settle()
    assert edits_of(world, kept_message) == []  # still published: it only left the feed
    assert edits_of(world, unknown_message) == []
    assert len(world.announcements()) == 4  # marked, never deleted
    # each asked once; the next checks ask no more
    blog.publish("Later")
    await world.poll_now()
    await eventually(lambda: len(world.announcements()) == 5, what="the later post")
    await settle()
    for post in (gone, kept, deleted, unknown):
        assert len(world.site.requests_for(f"/wp-json/wp/v2/posts/{post.wp_id}")) == 1

    # restored from the trash: back in the feed, its announcement is shown again
    blog.posts.append(gone)
    blog.serve()
    await world.poll_now()
    await eventually(
        lambda: world.fake.message(gone_message)["embeds"][0]["title"] == "Trashed one",
        what="the announcement restored",
    )
    await eventually(lambda: world.fake.channel(gone_thread)["name"] == "Trashed one")


async def test_an_owed_edit_is_made_after_a_restart(gazette_world):
    """Crash between recording the edit and the request: the edit is finished on start."""
    world = gazette_world
    blog = world.blog()
    await follow(world, blog)
    post, message_id, thread_id = await announce(world, blog, "Before the crash")
    await world.stop()  # the bot died before it could edit: the edit is recorded, owed
    from bot.models import Entry, Revised
    from bot.store import Store

    store = await Store.open(world.db_path)
    try:
        [(post_id,)] = await store._all("SELECT id FROM posts WHERE title = 'Before the crash'")
        entry = Entry(key="k", title="After the crash", summary_html="<p>New</p>")
        assert await store.record_revisions([Revised(post_id, entry, "h", None)], []) == 1
    finally:
        await store.close()
    await world.start()
    await eventually(lambda: edits_of(world, message_id), what="the owed edit")
    assert world.fake.message(message_id)["embeds"][0]["title"] == "After the crash"
    await eventually(lambda: world.fake.channel(thread_id)["name"] == "After the crash")
    # recorded done once the rename is answered (the test may look before that write)
    await eventually(lambda: _no_owed_edits(world.store), what="the edit recorded done")


async def _no_owed_edits(store) -> bool:
    return await store.count_owed_edits() == 0


async def test_an_edit_discord_refuses_is_logged_and_given_up(gazette_world, caplog):
    world = gazette_world
    blog = world.blog()
    await follow(world, blog)
    deleted, deleted_id, _ = await announce(world, blog, "Moderated")
    hidden, hidden_id, _ = await announce(world, blog, "Hidden")
    world.fake.remove_message(deleted_id)  # a moderator deleted the announcement
    deleted.title = "Moderated, edited"
    blog.serve()
    await world.poll_now()
    await eventually(lambda: "the announcement was deleted" in caplog.text, what="logged")
    assert len(world.fake.requests_to("PATCH", f".*/messages/{deleted_id}")) == 1

    # the bot may no longer see the channel (403): tried a few times, then given up
    world.fake.set_bot_overwrite(world.text, deny=Perm.VIEW_CHANNEL)
    hidden.title = "Hidden, edited"
    blog.serve()
    await world.poll_now()
    await eventually(lambda: "given up after" in caplog.text, within=15, what="given up")
    assert await world.store.count_owed_edits() == 0
    tries = len(world.fake.requests_to("PATCH", f".*/messages/{hidden_id}"))
    await settle()
    assert len(world.fake.requests_to("PATCH", f".*/messages/{hidden_id}")) == tries
    assert len(world.fake.requests_to("PATCH", f".*/messages/{deleted_id}")) == 1


async def test_a_title_flipping_every_check_is_edited_once_per_check_in_the_window(gazette_world):
    world = gazette_world
    blog = world.blog()
    await follow(world, blog)
    post, message_id, _ = await announce(world, blog, "Flip")
    old, old_message, _ = await announce(world, blog, "Old flip")
    # "Old flip" left the edit window (published 8 days ago, as stored)
    await world.store._write(
        "UPDATE post_revisions SET since = ? WHERE post_id ="
        " (SELECT id FROM posts WHERE title = 'Old flip')",
        (time.time() - 8 * 86400,),
    )
    checks = 4
    for n in range(checks):
        post.title = f"Flip {n}"
        old.title = f"Old flip {n}"
        blog.serve()
        await world.poll_now()
        await eventually(
            lambda n=n: world.fake.message(message_id)["embeds"][0]["title"] == f"Flip {n}",
            what=f"edit {n}",
        )
    await settle()
    assert len(edits_of(world, message_id)) == checks
    assert edits_of(world, old_message) == []


async def test_a_rate_limited_rename_does_not_hold_the_channels_other_edits(
    gazette_world, monkeypatch
):
    """Discord allows a thread about 2 renames per 10 minutes and answers more with a long
    429: a blog flipping one title must not hold the edits of the channel's other posts."""
    import cogs.announcer._edits as edits_module

    monkeypatch.setattr(edits_module, "RENAME_WAIT", 0.5)
    world = gazette_world
    blog = world.blog()
    await follow(world, blog)
    flipping, flipping_message, flipping_thread = await announce(world, blog, "Flip")
    other, other_message, other_thread = await announce(world, blog, "Other")
    world.fake.rate_limit("PATCH", f"/channels/{flipping_thread}", retry_after=600, times=None)

    flipping.title = "Flip 1"
    blog.serve()
    await world.poll_now()
    await eventually(lambda: edits_of(world, flipping_message), what="the flipped edit")
    other.title = "Other, corrected"
    blog.serve()
    await world.poll_now()
    await eventually(lambda: edits_of(world, other_message), what="the other post's edit")
    await eventually(lambda: world.fake.channel(other_thread)["name"] == "Other, corrected")
    assert world.fake.channel(flipping_thread)["name"] == "Flip"  # kept its name, for now

    # flipping on: its message follows, its rename is not even asked for a while
    asked = len(renames(world, flipping_thread))
    flipping.title = "Flip 2"
    blog.serve()
    await world.poll_now()
    await eventually(lambda: len(edits_of(world, flipping_message)) == 2, what="the next flip")
    await settle()
    assert len(renames(world, flipping_thread)) == asked


async def test_a_rest_api_that_cannot_answer_is_asked_once_per_check(gazette_world):
    """Posts left the feed and the blog's REST API is down (503): one request per check
    tells as much as five, and nothing is marked removed."""
    world = gazette_world
    blog = world.blog()
    serve_rest(world, blog, {})
    await follow(world, blog)
    posts = [(await announce(world, blog, f"Post {n}"))[0] for n in range(4)]
    down = (503, {"code": "unavailable", "message": "Down for maintenance"})
    serve_rest(world, blog, {post.wp_id: down for post in posts})
    for post in posts:
        blog.posts.remove(post)
    blog.publish("Newer")
    await world.poll_now()
    await eventually(lambda: len(world.announcements()) == 5, what="the newer post")
    await settle()

    def asked() -> int:
        return sum(
            len(world.site.requests_for(f"/wp-json/wp/v2/posts/{post.wp_id}")) for post in posts
        )

    assert asked() == 1
    blog.publish("Newest")
    await world.poll_now()
    await eventually(lambda: len(world.announcements()) == 6, what="the newest post")
    await settle()
    assert asked() == 2  # asked again at the next check, as undecided
    assert all(not edits_of(world, int(m["id"])) for m in world.announcements())
