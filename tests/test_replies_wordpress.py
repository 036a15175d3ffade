"""Replies back to a real WordPress (scripts/wordpress.sh) from the fake Discord: an
application password made as WordPress makes them, a member's message posted as a comment,
held or approved as the blog decides, shown once in the thread, withdrawn to the trash.

The test blog runs with WP_ENVIRONMENT_TYPE 'local', so WordPress offers application
passwords over plain HTTP; Gazette allows HTTP blogs only with ALLOW_PRIVATE_FEEDS (the
harness's default here).
"""

from __future__ import annotations

import pytest

from tests.discussion_helpers import mirrored, read_comments_now
from tests.harness import MEMBER, eventually, settle
from tests.test_discussion_wordpress import follow_and_publish

pytest_plugins = ["tests.wordpress_fixture"]
pytestmark = pytest.mark.wordpress


async def connect(world, wp, *, role: str):
    user = await wp.create_user("gazette", role=role, name="Gazette Bot")
    password = await wp.app_password(user)
    result = await world.command(
        "feed connect", {"feed": "1", "username": "gazette", "password": password}
    )
    assert "as **Gazette Bot**" in result.content, result.content
    return user


def post_to_blog(world, message, user, name="Post to the blog"):
    return world.fake.invoke_message_command(
        message, name, user_id=user, user_permissions=MEMBER, check_default_permissions=False
    )


async def blog_comments(wp, post_id):
    """The post's comments as WordPress has them, approved or not (newest ids last)."""
    found = []
    for comment_id in range(1, 200):
        comment = await wp.get_comment(comment_id)
        if comment["status"] is not None and comment["post"] == post_id:
            found.append(comment)
    return found


async def test_a_discord_reply_becomes_an_approved_comment_shown_once(gazette_world, wp_blog):
    world = gazette_world
    member = world.fake.add_user("mia")
    post, thread = await follow_and_publish(world, wp_blog, "Talk back")
    editor = await connect(world, wp_blog, role="editor")
    ann = await wp_blog.create_comment(post.id, "<p>What do you think?</p>", author="Ann")
    await read_comments_now(world)
    [shown] = await eventually(lambda: mirrored(world, thread) or None, within=10)

    message = world.fake.post_user_reply(
        thread, "I think <b>so</b> & more.", int(shown["id"]), user_id=member
    )
    result = await post_to_blog(world, message, member)
    assert "Posted on the blog" in result.content, result.content
    mine = [c for c in await blog_comments(wp_blog, post.id) if c["user_id"] == editor]
    assert len(mine) == 1
    [comment] = mine
    # WordPress keeps author_name for a signed-in account: the member's name, the account's id
    assert comment["author"] == "mia (via Discord)"
    assert comment["status"] == "approved"  # an editor's comments are approved at once
    assert comment["parent"] == ann.id
    assert "<b>" not in comment["content"] and "&lt;b&gt;so&lt;/b&gt;" in comment["content"]

    await wp_blog.create_comment(post.id, "<p>Later.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 3, within=10, what="Bob's")
    await read_comments_now(world)
    await settle(1.0)
    assert [m["author"]["username"] for m in mirrored(world, thread)] == ["Ann", "mia", "Bob"]

    withdrawn = await post_to_blog(world, message, member, "Withdraw from the blog")
    assert "Withdrawn" in withdrawn.content, withdrawn.content
    assert (await wp_blog.get_comment(comment["id"]))["status"] == "trash"


async def test_held_by_the_blogs_moderation_then_approved_shown_once(gazette_world, wp_blog):
    world = gazette_world
    member = world.fake.add_user("mia")
    await wp_blog.set_option("comment_moderation", 1)
    await wp_blog.set_option("gazette_duplicates", "on")  # WordPress's check, as shipped
    post, thread = await follow_and_publish(world, wp_blog, "Moderated talk")
    await connect(world, wp_blog, role="author")  # cannot moderate: the blog's rules apply
    message = world.fake.post_user_message(thread, "Please approve me.", user_id=member)
    result = await post_to_blog(world, message, member)
    assert "awaits the blog's moderation" in result.content, result.content
    [comment] = await blog_comments(wp_blog, post.id)
    assert comment["status"] == "unapproved" and comment["author"] == "mia (via Discord)"

    # the same words again, from another message: WordPress's duplicate check says no
    twice = world.fake.post_user_message(thread, "Please approve me.", user_id=member)
    result = await post_to_blog(world, twice, member)
    assert "already has exactly this comment from you" in result.content

    await wp_blog.edit_comment(comment["id"], approved=True)
    await read_comments_now(world)
    await settle(1.5)
    assert [m["id"] for m in mirrored(world, thread)] == [str(message), str(twice)]
    refused = await post_to_blog(world, message, member, "Withdraw from the blog")
    assert "remove comments on this article" in refused.content


async def test_connect_refuses_a_wrong_or_unavailable_application_password(gazette_world, wp_blog):
    world = gazette_world
    await follow_and_publish(world, wp_blog, "Connecting")
    user = await wp_blog.create_user("gazette", role="editor", name="Gazette Bot")
    password = await wp_blog.app_password(user)
    wrong = await world.command(
        "feed connect",
        {"feed": "1", "username": "gazette", "password": "aaaa bbbb cccc dddd eeee ffff"},
    )
    assert "did not sign Gazette in" in wrong.content, wrong.content
    await wp_blog.set_option("gazette_app_passwords", "off")
    off = await world.command(
        "feed connect", {"feed": "1", "username": "gazette", "password": password}
    )
    assert "Application passwords are not available" in off.content, off.content
    listing = await world.command("feed list")
    assert "Replies to the blog" not in str(listing.embeds)
    assert password not in wrong.content + off.content
