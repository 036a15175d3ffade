"""Comments mirrored into an article's thread, over the wire: real discord.py against the fake
Discord and a WordPress-like blog on 127.0.0.1 (tests/discussion_helpers.py). Authors,
replies, edits, what a commenter cannot do, the embeds used without Manage Webhooks, and a
comment sent once across a crash.
"""

from __future__ import annotations

import asyncio

from tests.discussion_helpers import (
    WPBlog,
    follow,
    mirrored,
    publish_and_announce,
    read_comments_now,
)
from tests.fakediscord import Perm
from tests.harness import eventually, settle


async def test_comments_appear_in_the_thread_under_their_authors_with_replies(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog, "Fresh article")
    assert world.fake.channel(thread)["name"] == "Fresh article"

    ann = blog.comment(post, "<p>First! <strong>Great</strong> read.</p>", author="Ann")
    blog.comment(post, "<p>I disagree.</p><p>Second paragraph.</p>", author="Bob")
    reply = blog.comment(post, "<p>Why, Ann?</p>", author="Cy", parent=ann)
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 3 and mirrored(world, thread), what="3 comments"
    )

    assert [m["author"]["username"] for m in messages] == ["Ann", "Bob", "Cy"]
    assert all(m.get("webhook_id") for m in messages)
    [hook] = world.fake.webhooks(world.text)
    assert hook["name"] == "Gazette"
    first = world.fake.message_request(int(messages[0]["id"]))
    assert first["avatar_url"] == "https://gravatar.test/1.png"
    assert first["allowed_mentions"]["parse"] == []
    assert "**Great**" in messages[0]["content"]
    assert blog.comment_link(ann) in messages[0]["content"]
    assert f"<t:{int(ann.date)}:f>" in messages[0]["content"]
    assert "I disagree.\n\nSecond paragraph." in messages[1]["content"]
    # the reply says whom it answers, quotes the first line and links the mirrored parent
    head = messages[2]["content"].split("\n")[0]
    assert "Reply to **Ann**" in head and "First! Great read." in head
    jump = f"https://discord.com/channels/{world.guild}/{thread}/{messages[0]['id']}"
    assert jump in head
    assert blog.comment_link(reply) in messages[2]["content"]

    # nothing new: nothing posted, one request per check
    before = len(world.site.requests_for("/wp-json/wp/v2/comments"))
    await read_comments_now(world)
    await eventually(lambda: len(world.site.requests_for("/wp-json/wp/v2/comments")) > before)
    await settle(0.4)
    assert len(mirrored(world, thread)) == 3


async def test_edited_comment_edits_its_message_and_a_restart_repeats_nothing(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    c1 = blog.comment(post, "<p>Typo in thsi post.</p>", author="Ann")
    blog.comment(post, "<p>Agreed.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) == 2)

    c1.html = "<p>Typo in this post (fixed).</p>"
    await read_comments_now(world)
    first = await eventually(
        lambda: "(fixed)" in mirrored(world, thread)[0]["content"] and mirrored(world, thread)[0]
    )
    assert first["edited_timestamp"] is not None
    assert len(mirrored(world, thread)) == 2

    await world.restart()
    blog.comment(post, "<p>After the restart.</p>", author="Cy")
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 3 and mirrored(world, thread)
    )
    await world.poll_now()
    await read_comments_now(world)
    await settle()
    assert [m["author"]["username"] for m in mirrored(world, thread)] == ["Ann", "Bob", "Cy"]
    assert messages[2]["content"].startswith("After the restart.")
    assert len(world.announcements()) == 1 and len(world.fake.threads(world.text)) == 1
    assert len(world.fake.webhooks(world.text)) == 1  # the channel's webhook is reused


async def test_without_manage_webhooks_comments_are_the_bots_embeds(gazette_world):
    world = gazette_world
    world.fake.set_bot_overwrite(world.text, deny=Perm.MANAGE_WEBHOOKS)
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    ann = blog.comment(post, "<p>Plain <em>embed</em>.</p>", author="Ann")
    blog.comment(post, "<p>Reply.</p>", author="Bob", parent=ann)
    await read_comments_now(world)
    messages = await eventually(
        lambda: len(mirrored(world, thread)) == 2 and mirrored(world, thread)
    )
    assert not world.fake.webhooks()
    assert all(m["author"]["id"] == str(world.fake.bot_user_id) for m in messages)
    first, second = (m["embeds"][0] for m in messages)
    assert first["author"]["name"] == "Ann"
    assert first["author"]["icon_url"] == "https://gravatar.test/1.png"
    assert "*embed*" in first["description"] and blog.comment_link(ann) in first["description"]
    assert "Reply to **Ann**" in second["description"]

    listing = await world.command("feed list")
    text = "\n".join(f["value"] for e in listing.embeds for f in e["fields"])
    assert "Manage Webhooks" in text

    ann.html = "<p>Edited embed.</p>"
    await read_comments_now(world)
    await eventually(
        lambda: "Edited embed." in mirrored(world, thread)[0]["embeds"][0]["description"]
    )


async def test_nothing_a_commenter_writes_pings_or_escapes_its_message(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    member = world.fake.add_user("victim")
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    hostile = (
        f"<p>@everyone @here <@{member}> <@&{world.role}> <#{world.text}></p>"
        "<pre>``` unclosed\n" + "x " * 3000 + "</pre><p>||spoiler</p>"
    )
    blog.comment(post, hostile, author="@everyone Discord Clyde")
    blog.comment(post, "<p>next</p>", author="here")
    await read_comments_now(world)
    first, second = await eventually(
        lambda: len(mirrored(world, thread)) == 2 and mirrored(world, thread)
    )
    request = world.fake.message_request(int(first["id"]))
    assert request["allowed_mentions"]["parse"] == []
    assert first["mention_everyone"] is False and first["mentions"] == []
    assert first["mention_roles"] == []
    content = first["content"]
    assert len(content) <= 2000
    assert "@everyone" not in content and "@here" not in content
    assert f"<@{member}>" not in content and f"<@&{world.role}>" not in content
    # the link to the comment closes the message, outside any code block
    assert content.rstrip().split("\n")[-1].startswith("-# [Comment on the blog]")
    assert content.count("```") % 2 == 0
    name = first["author"]["username"]
    assert "discord" not in name.lower() and "clyde" not in name.lower()
    assert "@everyone" not in name
    assert second["author"]["username"] not in ("here", "everyone")


async def test_killed_mid_send_the_comment_is_shown_once_after_restart(gazette_world):
    world = gazette_world
    blog = WPBlog(world.site)
    await world.start()
    await follow(world, blog)
    post, thread = await publish_and_announce(world, blog)
    await eventually(lambda: world.fake.channel(thread))
    stall = world.fake.stall("POST", r"/webhooks/\d+/[^/]+")
    blog.comment(post, "<p>Sent while crashing.</p>", author="Ann")
    await read_comments_now(world)
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    assert len(mirrored(world, thread)) == 1

    await world.restart()
    blog.comment(post, "<p>Later.</p>", author="Bob")
    await read_comments_now(world)
    await eventually(lambda: len(mirrored(world, thread)) >= 2)
    await settle()
    assert [m["author"]["username"] for m in mirrored(world, thread)] == ["Ann", "Bob"]
