"""Comments the blog removes (trash, unapproved, spam, deleted) leave the thread, over the wire:
real discord.py against the fake Discord, a WordPress-like blog on 127.0.0.1
(tests/discussion_helpers.py). Read over REST and over the comment feed; deleted, or edited to
say so where Discord refuses; approved again, shown once more; owed across a restart; never a
message that is not the comment's.
"""

from __future__ import annotations

import asyncio

import pytest

from cogs.discussion._messages import REMOVED_TEXT
from tests.discussion_helpers import WPBlog, follow, has, mirrored, publish_and_announce
from tests.discussion_helpers import read_comments_now as read_now
from tests.fakediscord import Perm
from tests.harness import eventually, settle


def authors(world, thread: int) -> list[str]:
    return [m["author"]["username"] for m in mirrored(world, thread)]


async def three_comments(world, blog: WPBlog, **kw):
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    comments = [blog.comment(post, f"<p>Said by {a}.</p>", author=a) for a in ("Ann", "Bob", "Cy")]
    await read_now(world)
    await eventually(lambda: has(world, thread, 3), what="3 comments")
    return post, thread, comments


async def removed_at(world, comment_id: int):
    return await world.store._value(
        "SELECT removed_at FROM comments WHERE comment_id = ?", (comment_id,)
    )


async def test_trashed_or_unapproved_comment_leaves_the_thread_and_comes_back_once(
    gazette_world,
):
    world = gazette_world
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)
    bob_message = mirrored(world, thread)[1]["id"]

    bob.approved = False  # trashed (or held, or spam: the blog shows it to nobody)
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Cy"], what="Bob's removal")
    assert bob_message not in {m["id"] for m in mirrored(world, thread)}
    assert await removed_at(world, bob.id) is not None
    # asked for by its id: 401 rest_cannot_read proved it
    assert world.site.requests_for(f"/wp-json/wp/v2/comments/{bob.id}")

    # read again and again: nothing more happens
    await read_now(world)
    await settle()
    assert authors(world, thread) == ["Ann", "Cy"]

    bob.approved = True  # approved again: back, once
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Cy", "Bob"], what="Bob again")
    await read_now(world)
    await settle()
    assert authors(world, thread) == ["Ann", "Cy", "Bob"]
    assert await removed_at(world, bob.id) is None

    del blog.comments[cy.id]  # deleted for good: 404 rest_comment_invalid_id
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Bob"], what="Cy's removal")


async def test_a_comment_the_rest_read_missed_but_the_blog_shows_stays(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)
    # the listing misses Bob (pages shifted under the read, a caching proxy...), asking for
    # Bob himself says he is there: nothing is removed
    listing = blog._rest_comments

    async def without_bob(request):
        bob.approved = False
        try:
            return await listing(request)
        finally:
            bob.approved = True

    world.site.route("/wp-json/wp/v2/comments", handler=without_bob)
    await read_now(world)
    await eventually(lambda: world.site.requests_for(f"/wp-json/wp/v2/comments/{bob.id}"))
    await settle()
    assert authors(world, thread) == ["Ann", "Bob", "Cy"]
    assert await removed_at(world, bob.id) is None


async def test_a_partial_read_removes_nothing(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)
    world.bot.comment_watcher.max_pages = 1  # COMMENT_MAX_PAGES reached: 2 pages of 100
    for n in range(100):
        blog.comment(post, f"<p>{n}</p>", author=f"R{n}")
    bob.approved = False
    await read_now(world)
    await eventually(lambda: len(mirrored(world, thread)) > 50, within=20, what="page one")
    await settle()
    assert "Bob" in authors(world, thread)
    assert not world.site.requests_for(f"/wp-json/wp/v2/comments/{bob.id}")
    assert await removed_at(world, bob.id) is None


async def test_over_the_comment_feed_a_removal_is_seen_when_the_feed_proves_it(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site, rest="off")
    post, thread, (ann, bob, cy) = await three_comments(world, blog)

    cy.approved = False  # the newest: Ann and Bob, older, are still shown, so Cy would be
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Bob"], what="Cy's removal")

    ann.approved = False  # the oldest: it may just have fallen off the feed's page
    await read_now(world)
    await eventually(lambda: len(world.site.requests_for(f"/{post.id}/feed/")) >= 3)
    await settle()
    assert authors(world, thread) == ["Ann", "Bob"]

    bob.approved = False  # the feed shows no comment at all: the post has none
    await read_now(world)
    await eventually(lambda: authors(world, thread) == [], what="every removal")

    cy.approved = True
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Cy"], what="Cy again")


@pytest.mark.parametrize("carried_out", [False, True])
async def test_a_removal_cut_short_by_a_stop_is_done_after_restart(gazette_world, carried_out):
    world = gazette_world
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)
    stall = world.fake.stall("DELETE", r"/webhooks/\d+/[^/]+/messages/\d+", carry_out=carried_out)
    bob.approved = False
    await read_now(world)
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    assert authors(world, thread) == (["Ann", "Cy"] if carried_out else ["Ann", "Bob", "Cy"])

    await world.start()  # the removal is owed by the store: done without reading the blog
    await eventually(lambda: authors(world, thread) == ["Ann", "Cy"], what="Bob's removal")
    await eventually(
        lambda: world.store._value(
            "SELECT count(*) = 2 FROM mirrored_comments m JOIN comments c"
            " ON c.comment_id = m.comment_id AND c.post_id = m.post_id"
        ),
        what="the removal recorded",
    )
    bob.approved = True  # approved again: back, once
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Cy", "Bob"], what="Bob again")
    await settle()
    assert authors(world, thread) == ["Ann", "Cy", "Bob"]


async def test_where_deleting_is_refused_the_message_says_the_comment_was_removed(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)
    bob_message = mirrored(world, thread)[1]["id"]
    world.fake.fail("DELETE", r"/webhooks/\d+/[^/]+/messages/\d+", 403, times=None)
    bob.approved = False
    await read_now(world)
    await eventually(
        lambda: world.fake.message(int(bob_message))["content"] == REMOVED_TEXT,
        what="the message edited",
    )
    assert len(mirrored(world, thread)) == 3
    await read_now(world)
    await settle()
    assert world.fake.message(int(bob_message))["content"] == REMOVED_TEXT

    bob.approved = True  # approved again: the same message shows it again
    await read_now(world)
    await eventually(
        lambda: "Said by Bob." in world.fake.message(int(bob_message))["content"],
        what="the message edited back",
    )
    await settle()
    assert authors(world, thread) == ["Ann", "Bob", "Cy"]


async def test_embeds_are_deleted_and_nothing_else_is(gazette_world):
    world = gazette_world
    world.fake.set_bot_overwrite(world.text, deny=Perm.MANAGE_WEBHOOKS)
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)
    assert not any(m.get("webhook_id") for m in mirrored(world, thread))
    chat = world.fake.post_user_message(thread, "I liked Bob's point")
    bob.approved = cy.approved = False
    await read_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 2, what="two removals")
    remaining = mirrored(world, thread)
    assert remaining[0]["embeds"][0]["author"]["name"] == "Ann"
    assert remaining[1]["id"] == str(chat)


async def test_a_mirror_from_a_replaced_webhook_is_deleted_after_being_read_back(
    gazette_world,
):
    world = gazette_world
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)
    [hook] = world.fake.webhooks(world.text)
    # someone deletes the Gazette webhook; the next comment makes a new one
    await world.stop()
    world.fake._webhooks.pop(int(hook["id"]))
    await world.start()
    dee = blog.comment(post, "<p>Said by Dee.</p>", author="Dee")
    await read_now(world)
    await eventually(lambda: has(world, thread, 4), what="Dee's comment")
    assert len(world.fake.webhooks(world.text)) == 1

    bob_message = mirrored(world, thread)[1]["id"]
    bob.approved = dee.approved = False
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Cy"], what="both removed")
    # the new webhook could not delete Bob's message: the bot read it back, saw it was
    # Bob's comment sent by a webhook, and deleted it
    assert any(
        r.method == "GET" and r.path.endswith(f"/messages/{bob_message}")
        for r in world.fake.requests
    )


async def test_a_blog_flapping_a_comment_costs_an_edit_per_flip_never_new_messages(
    gazette_world,
):
    """Removed once, deleted; approved again, sent again, once. From then on each flip of
    that comment edits its one message (removed / shown): no message storm, no pings."""
    world = gazette_world
    blog = WPBlog(world.site)
    post, thread, (ann, bob, cy) = await three_comments(world, blog)

    def sends():
        return [
            r
            for r in world.fake.requests
            if r.method == "POST" and ("/webhooks/" in r.path or f"/channels/{thread}/" in r.path)
        ]

    bob.approved = False
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Cy"], what="Bob's removal")
    bob.approved = True
    await read_now(world)
    await eventually(lambda: authors(world, thread) == ["Ann", "Cy", "Bob"], what="Bob again")
    bob_message = mirrored(world, thread)[2]["id"]
    sent = len(sends())
    for _ in range(3):
        bob.approved = False
        await read_now(world)
        await eventually(
            lambda: world.fake.message(int(bob_message))["content"] == REMOVED_TEXT,
            what="the message edited to say so",
        )
        bob.approved = True
        await read_now(world)
        await eventually(
            lambda: "Said by Bob." in world.fake.message(int(bob_message))["content"],
            what="the message edited back",
        )
    await settle()
    assert authors(world, thread) == ["Ann", "Cy", "Bob"]
    assert len(sends()) == sent  # no new message
