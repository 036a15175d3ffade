"""Comments removed on a real WordPress (scripts/wordpress.sh) leave the thread on the fake
Discord: trashed, unapproved, marked as spam; approved again, shown once more. Over the REST
API, and over the comment feed where the REST API is off.

Skipped, with the reason, where WordPress cannot start (GAZETTE_REQUIRE_WORDPRESS=1 makes that
a failure, as in CI).
"""

from __future__ import annotations

import pytest

from tests.discussion_helpers import has, mirrored, read_comments_now
from tests.harness import eventually, settle
from tests.test_discussion_wordpress import follow_and_publish, next_second

pytest_plugins = ["tests.wordpress_fixture"]  # the wordpress and wp_blog fixtures
pytestmark = pytest.mark.wordpress


def authors(world, thread: int) -> list[str]:
    return [m["author"]["username"] for m in mirrored(world, thread)]


async def shown(world, thread: int, expected: list[str], what: str) -> None:
    await read_comments_now(world)
    await eventually(lambda: authors(world, thread) == expected, within=15, what=what)


async def test_trashed_unapproved_and_spam_comments_leave_the_thread_and_come_back_once(
    gazette_world, wp_blog
):
    world = gazette_world
    post, thread = await follow_and_publish(world, wp_blog, "Moderated later")
    made = {}
    for name in ("Ann", "Bob", "Cy", "Dee"):
        made[name] = await wp_blog.create_comment(post.id, f"<p>I am {name}.</p>", author=name)
    await read_comments_now(world)
    await eventually(lambda: has(world, thread, 4), within=15, what="4 comments")

    await wp_blog.trash_comment(made["Bob"].id)
    await shown(world, thread, ["Ann", "Cy", "Dee"], "Bob trashed")
    await wp_blog.unapprove_comment(made["Ann"].id)
    await shown(world, thread, ["Cy", "Dee"], "Ann unapproved")
    await wp_blog.spam_comment(made["Dee"].id)
    await shown(world, thread, ["Cy"], "Dee marked as spam")

    await wp_blog.approve_comment(made["Bob"].id)  # from the trash, approved again
    await shown(world, thread, ["Cy", "Bob"], "Bob approved again")
    await wp_blog.approve_comment(made["Ann"].id)
    await shown(world, thread, ["Cy", "Bob", "Ann"], "Ann approved again")
    # read again and again: each once
    await read_comments_now(world)
    await settle()
    await read_comments_now(world)
    await settle()
    assert authors(world, thread) == ["Cy", "Bob", "Ann"]

    await wp_blog.delete_comment(made["Cy"].id)  # deleted for good
    await shown(world, thread, ["Bob", "Ann"], "Cy deleted")


async def test_over_the_comment_feed_a_trashed_comment_leaves_the_thread(gazette_world, wp_blog):
    world = gazette_world
    await wp_blog.set_rest("off")
    post, thread = await follow_and_publish(world, wp_blog, "Feed only, moderated")
    ann = await wp_blog.create_comment(post.id, "<p>First.</p>", author="Ann")
    await next_second()  # the feed orders by date, to the second
    bob = await wp_blog.create_comment(post.id, "<p>Second.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: has(world, thread, 2), within=15, what="2 comments")

    await wp_blog.trash_comment(bob.id)  # newer than Ann, whom the feed still shows
    await shown(world, thread, ["Ann"], "Bob trashed")
    await wp_blog.unapprove_comment(ann.id)  # the feed shows no comment at all
    await shown(world, thread, [], "Ann unapproved")
    await wp_blog.approve_comment(bob.id)
    await shown(world, thread, ["Bob"], "Bob approved again")
