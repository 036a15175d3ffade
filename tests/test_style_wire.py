"""Message styles over the wire (`/feed style`): the real bot against the fake Discord, a blog
on 127.0.0.1. Each style looks as the README says; a preview is stored only by Save; nothing
in a post pings through a template; edits and crash recovery keep the style."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time

import pytest

from bot.render.style import TEMPLATE_LIMIT
from tests.harness import button, eventually, settle

TEMPLATE = "New on the blog: {title} by {author} ({categories}) {excerpt} {roles}"


async def follow(world, blog, channel=None, **options) -> None:
    await world.start()
    await world.command(
        "feed add", {"url": blog.feed_url, "channel": channel or world.text, **options}
    )
    await settle(0.3)


async def subscription(world):
    [sub] = await world.store.guild_subscriptions(world.guild)
    return sub


async def style_preview(world, style: str, **options):
    sub = await subscription(world)
    return await world.command("feed style", {"feed": str(sub.id), "style": style, **options})


async def set_style(world, style: str, **options) -> None:
    preview = await style_preview(world, style, **options)
    saved = await world.fake.click(preview, button(preview.message, "Save")["custom_id"])
    assert saved.content.startswith("Saved"), saved.content


def shown(world, channel=None) -> list[dict]:
    """The bot's messages in a channel (with or without an embed)."""
    me = str(world.bot.user.id)
    return [m for m in world.fake.messages(channel or world.text) if m["author"]["id"] == me]


async def announce(world, blog, title: str, channel=None, **fields) -> dict:
    post = blog.publish(title, **fields)
    await world.poll_now()
    [message] = await eventually(
        lambda: [m for m in shown(world, channel) if blog.link(post) in str(m)],
        what=f"the announcement of {title!r}",
    )
    return message


async def test_each_style_looks_as_documented(gazette_world):
    world = gazette_world
    blog = world.blog()
    blog.publish("Before")
    await follow(world, blog, mention=world.role)
    fields = dict(
        html="<p>First words of the post.</p><p>More.</p>",
        image="https://img.test/a.png",
        categories=["News"],
    )

    # full (the default): today's embed, the role alone as text
    full = await announce(world, blog, "Full one", **fields)
    assert full["content"] == f"<@&{world.role}>"
    embed = full["embeds"][0]
    assert embed["image"]["url"] == "https://img.test/a.png" and embed["fields"]

    # compact: the title as a link, the author, one line; no image, no fields
    await set_style(world, "compact")
    compact = await announce(world, blog, "Compact one", **fields)
    [embed] = compact["embeds"]
    assert (embed["title"], embed["url"]) == ("Compact one", blog.link(blog.posts[-1]))
    assert embed["author"]["name"] == "Ada Writer"
    assert embed["description"] == "First words of the post. More."
    assert "image" not in embed and not embed.get("fields")
    assert compact["content"] == f"<@&{world.role}>"

    # link: a plain message with the title and the bare link (Discord previews it)
    await set_style(world, "link")
    post_link = blog.link(blog.publish("Link one", **fields))
    await world.poll_now()
    [link] = await eventually(
        lambda: [m for m in shown(world) if post_link in m["content"]], what="the link message"
    )
    assert link["content"] == f"<@&{world.role}>\n**Link one**\n{post_link}"
    request = world.fake.message_request(int(link["id"]))
    assert not request.get("embeds")
    assert request["allowed_mentions"]["parse"] == [] and link["mention_roles"] == [str(world.role)]
    # each one opened its discussion thread, as before
    await eventually(lambda: len(world.fake.threads(world.text)) == 3, what="three threads")

    # /feed test previews in the subscription's style, pinging nobody
    test = await world.command("feed test", {"feed": str((await subscription(world)).id)})
    assert test.ephemeral and post_link in test.content and not test.embeds
    assert test.message["mention_roles"] == []


async def test_preview_then_save_stores_cancel_does_not_and_a_restart_keeps_it(gazette_world):
    world = gazette_world
    blog = world.blog()
    blog.publish("The newest", image="https://img.test/a.png")
    await follow(world, blog)

    preview = await style_preview(world, "compact", template="Read: {title}")
    assert preview.ephemeral
    assert preview.content.startswith("Preview: the **compact embed**")
    assert preview.content.endswith("Read: The newest")
    [embed] = preview.embeds
    assert embed["title"] == "The newest" and "image" not in embed
    # only the admin who asked may press
    stranger = world.fake.add_user("stranger")
    refused = await world.fake.click(
        preview, button(preview.message, "Save")["custom_id"], user_id=stranger
    )
    assert "belong to the admin" in refused.content and refused.ephemeral
    cancelled = await world.fake.click(preview, button(preview.message, "Cancel")["custom_id"])
    assert cancelled.content == "Cancelled: the style was not changed."
    assert not cancelled.message["components"] and not cancelled.message["embeds"]
    sub = await subscription(world)
    assert (sub.style, sub.template) == ("full", None)

    await set_style(world, "compact", template="Read: {title}")
    sub = await subscription(world)
    assert (sub.style, sub.template) == ("compact", "Read: {title}")
    listing = await world.command("feed list")
    assert "style: compact with a template" in str(listing.embeds)

    await world.restart()
    message = await announce(world, blog, "After restart", image="https://img.test/b.png")
    assert message["content"] == "Read: After restart"
    assert "image" not in message["embeds"][0]

    # no_template removes the text; the style stays what is chosen
    await set_style(world, "full", no_template=True)
    message = await announce(world, blog, "Plain full", image="https://img.test/c.png")
    assert message["content"] == "" and message["embeds"][0]["image"]


async def test_the_buttons_disable_themselves_when_left(gazette_world, monkeypatch):
    world = gazette_world
    blog = world.blog()
    blog.publish("The newest")
    await follow(world, blog)
    # the module the running bot loaded (an earlier bot's unload leaves stale ones behind)
    monkeypatch.setattr(sys.modules["cogs.feeds._style"], "STYLE_VIEW_TIMEOUT", 0.3)
    preview = await style_preview(world, "link")
    await eventually(
        lambda: all(c.get("disabled") for row in preview.components for c in row["components"]),
        what="the buttons disabled",
    )
    with pytest.raises(ValueError, match="disabled"):
        await world.fake.click(preview, button(preview.message, "Save")["custom_id"])
    assert (await subscription(world)).style == "full"


async def test_a_template_with_everyone_or_a_role_in_a_posts_title_pings_no_one(gazette_world):
    world = gazette_world
    other = world.fake.add_role(world.guild, "Everybody", mentionable=True)
    blog = world.blog()
    blog.publish("Before")
    await follow(world, blog, mention=world.role)
    # the admin's own @everyone in the template pings no one either
    await set_style(world, "link", template="@everyone " + TEMPLATE + " {link}")
    hostile = f"@everyone @here <@&{other}> <@{world.fake.owner_id}> [click](https://evil.test)"
    post = blog.publish(
        hostile,
        f"<p>@everyone read https://evil.test/x and <@&{other}></p>",
        author="@here **Mallory**",
        categories=[f"<@&{other}>", "News"],
    )
    await world.poll_now()
    [message] = await eventually(
        lambda: [m for m in shown(world) if blog.link(post) in m["content"]], what="the post"
    )
    content = message["content"]
    assert content.startswith("@everyone New on the blog: ")  # the admin's text, as written
    assert content.count("@everyone") == 1 and "@here" not in content
    assert f"<@&{other}>" not in content and f"<@{world.fake.owner_id}>" not in content
    assert "](https://evil" not in content and "https://evil" not in content
    assert "\\*\\*Mallory\\*\\*" in content
    assert content.endswith(f"<@&{world.role}> {blog.link(post)}")
    allowed = world.fake.message_request(int(message["id"]))["allowed_mentions"]
    assert allowed["parse"] == [] and [str(r) for r in allowed["roles"]] == [str(world.role)]
    assert message["mention_everyone"] is False
    assert message["mentions"] == [] and message["mention_roles"] == [str(world.role)]


async def test_without_a_mention_role_a_hostile_title_pings_nobody_in_any_style(gazette_world):
    world = gazette_world
    blog = world.blog()
    blog.publish("Before")
    await follow(world, blog)
    for style in ("full", "compact", "link"):
        await set_style(world, style, template="{title} {roles}")
        post = blog.publish(f"@everyone <@&{world.role}> {style}")
        await world.poll_now()
        [message] = await eventually(
            lambda post=post: [m for m in shown(world) if blog.link(post) in str(m)],
            what=f"the {style} announcement",
        )
        assert message["content"].startswith("@\u200beveryone \\<@&\u200b")
        allowed = world.fake.message_request(int(message["id"]))["allowed_mentions"]
        assert allowed["parse"] == [] and not allowed.get("roles")
        assert message["mention_everyone"] is False and message["mention_roles"] == []


async def test_a_template_that_cannot_be_used_is_a_clear_error_and_changes_nothing(
    gazette_world,
):
    world = gazette_world
    blog = world.blog()
    blog.publish("The newest")
    await follow(world, blog)
    for template, says in (
        ("New: {titel}", "Unknown placeholder {titel}: the template may use {title}, {link}"),
        ("{title.__class__}", "Unknown placeholder {title.\\_\\_class\\_\\_}"),
        ("New: {title", "write `{{` or `}}` for a brace itself"),
        ("{title!r}", "Write the placeholder as {title}"),
    ):
        answer = await style_preview(world, "compact", template=template)
        assert answer.ephemeral and says in answer.content, answer.content
        assert not answer.components
    answer = await style_preview(world, "link", template="{title}", no_template=True)
    assert "not both" in answer.content
    # Discord itself refuses a longer template (the option's max_length)
    with pytest.raises(ValueError, match="longer than"):
        await style_preview(world, "link", template="x" * (TEMPLATE_LIMIT + 1))
    sub = await subscription(world)
    assert (sub.style, sub.template) == ("full", None)


async def test_a_forum_post_keeps_its_title_and_its_starter_message_follows_the_style(
    gazette_world,
):
    world = gazette_world
    blog = world.blog()
    blog.publish("Before")
    await follow(world, blog, channel=world.forum)
    await set_style(world, "link", template="{title} by {author}")
    post = blog.publish("A forum article")
    await world.poll_now()
    [thread] = await eventually(lambda: world.fake.threads(world.forum), what="the forum post")
    assert thread["name"] == "A forum article"
    starter = world.fake.message(int(thread["id"]))
    assert starter["content"] == f"A forum article by Ada Writer\n{blog.link(post)}"
    assert not starter["embeds"]


async def test_an_edit_keeps_the_style_it_was_sent_in_and_pings_nobody(gazette_world):
    world = gazette_world
    blog = world.blog()
    blog.publish("Before")
    await follow(world, blog)
    await set_style(world, "link", template="{title}")
    post = blog.publish("Linked")
    await world.poll_now()
    [message] = await eventually(
        lambda: [m for m in shown(world) if blog.link(post) in m["content"]], what="the post"
    )
    # the style changes afterwards: the message sent as a link stays one
    await set_style(world, "full", template="{title}")
    post.title = "@everyone Linked, corrected"
    blog.serve()
    await world.poll_now()
    edited = await eventually(
        lambda: world.fake.message_request(int(message["id"])).get("edits"),
        within=10,
        what="the edit",
    )
    assert "embeds" not in edited[0]  # Discord's preview of the link is left as it is
    after = world.fake.message(int(message["id"]))
    assert after["content"] == f"@\u200beveryone Linked, corrected\n{blog.link(post)}"
    assert edited[0]["allowed_mentions"]["parse"] == []
    assert after["mention_everyone"] is False and after["mention_roles"] == []


@pytest.mark.parametrize(
    ("sent_as", "now"), [("link", "link"), ("full", "link"), ("compact", "full")]
)
async def test_an_announcement_cut_short_by_a_crash_is_not_sent_twice_whatever_its_style(
    gazette_world, sent_as, now
):
    """Past Discord's nonce window the channel is read back: a link message is recognised by
    its whole text (it has no embed to compare), an embed by its title and link even when
    the admin changed the style meanwhile."""
    world = gazette_world
    blog = world.blog()
    blog.publish("Before")
    await follow(world, blog)
    await set_style(world, sent_as)
    stall = world.fake.stall("POST", rf"/channels/{world.text}/messages")
    crashed = blog.publish("Sent while crashing")
    await world.poll_now()
    await asyncio.wait_for(stall.reached.wait(), 5)
    await world.stop()
    stall.release.set()
    for n in range(60):  # the channel goes on meanwhile
        world.fake.post_user_message(world.text, f"chat {n}")
    world.fake.nonce_window = 0  # an hour later: the nonce no longer dedups
    with sqlite3.connect(world.db_path) as db:
        db.execute("UPDATE deliveries SET started_at = started_at - 3600")
        db.execute("UPDATE subscriptions SET style = ?", (now,))  # as /feed style saves it

    await world.restart()
    after = blog.publish("After the outage")
    await world.poll_now()
    await eventually(lambda: len(shown(world)) == 2, what="the next announcement")
    await settle()
    messages = [str(m) for m in shown(world)]  # its text, or its embed
    assert [blog.link(crashed) in m for m in messages] == [True, False]
    assert blog.link(after) in messages[1]
    assert await world.store.due_deliveries(time.time() + 3600) == []


def _text_size(command: dict) -> int:
    """Characters Discord counts toward a top-level command's 8,000: names, descriptions,
    choices' names and values, through every subcommand and option."""
    size = len(command["name"]) + len(command.get("description", ""))
    for choice in command.get("choices") or []:
        size += len(choice["name"]) + len(str(choice["value"]))
    return size + sum(_text_size(option) for option in command.get("options") or [])


def _check_limits(command: dict) -> None:
    assert 1 <= len(command["name"]) <= 32, command["name"]
    if command.get("type", 1) in (1, 2):  # chat input commands, subcommands
        assert 1 <= len(command.get("description", "")) <= 100, command
    options = command.get("options") or []
    assert len(options) <= 25 and len(command.get("choices") or []) <= 25
    for option in options:
        _check_limits(option)


async def test_the_feed_command_still_fits_discords_limits(gazette_world):
    world = gazette_world
    await world.start()
    [feed] = [c for c in world.fake.commands(world.guild) if c["name"] == "feed"]
    style = next(o for o in feed["options"] if o["name"] == "style")
    assert [o["name"] for o in style["options"]] == ["feed", "style", "template", "no_template"]
    assert next(o for o in style["options"] if o["name"] == "template")["max_length"] == 300
    _check_limits(feed)
    assert _text_size(feed) <= 8000
