"""An article's thread over the wire: reopened when archived, deleted by moderators for good,
opened by /discuss for an old article, a forum post with tags, and a missing thread
permission listed until it is given.
"""

from __future__ import annotations

from tests.discussion_helpers import (
    WPBlog,
    announced_thread,
    follow,
    mirrored,
    publish_and_announce,
    read_comments_now,
)
from tests.fakediscord import Perm
from tests.harness import MEMBER, eventually, settle


async def test_an_archived_thread_is_reopened_by_a_new_comment(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    world.fake.update_channel(thread, archived=True)
    await settle(0.2)
    blog.comment(post, "<p>Wake up.</p>", author="Ann")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 1)
    assert world.fake.channel(thread)["thread_metadata"]["archived"] is False
    assert world.fake.requests_to("PATCH", rf"/channels/{thread}")


async def test_a_thread_deleted_by_a_moderator_stays_deleted(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog, "Deleted talk")
    blog.comment(post, "<p>Before.</p>", author="Ann")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 1)

    world.fake.remove_channel(thread)
    await settle(0.2)
    blog.comment(post, "<p>After.</p>", author="Bob")
    await read_comments_now(world)
    await settle()
    assert world.fake.threads(world.text) == []

    choices = await world.fake.autocomplete(
        world.guild, world.text, "discuss", option="article", value="Deleted"
    )
    assert [c["name"] for c in choices] == ["Deleted talk"]
    member = world.fake.add_user("reader")
    for user in (None, member):  # neither the owner nor a member can bring it back
        result = await world.command("discuss", {"article": choices[0]["value"]}, user_id=user)
        assert result.ephemeral and "closed by this server's moderators" in result.content
    await settle()
    assert world.fake.threads(world.text) == []
    assert world.fake.messages(world.text) == world.announcements()  # no new starter message


async def test_a_thread_deleted_while_gazette_was_away_stays_deleted(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog, "Gone quietly")
    await world.stop()
    world.fake.remove_channel(thread)  # no client connected: no THREAD_DELETE reaches it
    await world.start()
    result = await world.command("discuss", {"article": "Gone quietly"})
    assert "closed by this server's moderators" in result.content
    assert world.fake.threads(world.text) == []


async def test_discuss_opens_the_discussion_of_an_old_archive_article_once(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    old = blog.publish("An old favourite")
    blog.publish("Something else")
    blog.comment(old, "<p>Still relevant.</p>", author="Ann")
    await world.start()
    await follow(world, blog)
    await settle(0.3)
    assert world.fake.threads(world.text) == [] and world.announcements() == []

    member = world.fake.add_user("reader")
    choices = await world.fake.autocomplete(
        world.guild, world.text, "discuss", option="article", value="old", user_id=member
    )
    assert [c["name"] for c in choices] == ["An old favourite"]
    result = await world.command(
        "discuss",
        {"article": choices[0]["value"]},
        user_id=member,
        user_permissions=MEMBER,
    )
    assert result.ephemeral
    thread = await announced_thread(world)
    assert f"/{thread}" in result.messages[-1]["content"]
    assert world.fake.channel(thread)["name"] == "An old favourite"
    [message] = await eventually(lambda: mirrored(world, thread))
    assert message["author"]["username"] == "Ann"

    again = await world.command("discuss", {"article": choices[0]["value"]}, user_id=member)
    assert (
        "is here" in again.messages[-1]["content"] and f"/{thread}" in again.messages[-1]["content"]
    )
    assert len(world.fake.threads(world.text)) == 1

    nothing = await world.command("discuss", {"article": "no such thing"})
    assert "No such article" in nothing.content


async def test_forum_posts_get_matching_tags_and_comments(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog, world.forum)
    post, thread = await publish_and_announce(
        world, blog, "Forum article", channel=world.forum, categories=["Travel", "Food"]
    )
    forum_post = world.fake.channel(thread)
    assert forum_post["name"] == "Forum article"
    assert forum_post["applied_tags"] == [str(world.fake.tag_id(world.forum, "Travel"))]
    blog.comment(post, "<p>Into the forum.</p>", author="Ann")
    await read_comments_now(world)
    [message] = await eventually(lambda: mirrored(world, thread))
    assert message["author"]["username"] == "Ann" and message.get("webhook_id")
    assert world.fake.webhooks(world.forum)


async def test_missing_thread_permission_is_listed_then_the_thread_opens_when_allowed(
    gazette_world,
):
    world = gazette_world
    world.fake.set_bot_overwrite(world.text, deny=Perm.CREATE_PUBLIC_THREADS)
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post = blog.publish("No thread yet")
    await world.poll_now()
    [announcement] = await eventually(world.announcements)
    await settle(0.2)
    assert world.fake.threads(world.text) == []

    listing = await world.command("feed list")
    text = "\n".join(f["value"] for e in listing.embeds for f in e["fields"])
    assert "Create Public Threads" in text

    blog.comment(post, "<p>Where do I talk?</p>", author="Ann")
    await read_comments_now(world)
    await eventually(
        lambda: _listing_has(world, "Create Public Threads"), what="the failure listed"
    )
    assert world.fake.threads(world.text) == []
    [choice] = await world.fake.autocomplete(
        world.guild, world.text, "discuss", option="article", value="No thread"
    )
    refused = await world.command("discuss", {"article": choice["value"]})
    assert "missing Create Public Threads" in refused.messages[-1]["content"]

    world.fake.set_bot_overwrite(world.text)  # permission back
    thread = await announced_thread(world)
    assert thread == int(announcement["id"])  # on the announcement itself
    [message] = await eventually(lambda: mirrored(world, thread))
    assert message["author"]["username"] == "Ann"


async def _listing_has(world, text: str) -> bool:
    listing = await world.command("feed list")
    return any(
        text in f["value"] and "retrying" in f["value"] for e in listing.embeds for f in e["fields"]
    )
