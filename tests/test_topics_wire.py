"""Topic roles (`/feed roles`) over the wire: the admin's menu, the members' panel, the
announcements that mention a topic's role, and what may never happen (pings for other
posts, roles touched in another server, a broken announcement after a role is deleted)."""

from __future__ import annotations

from tests.fakediscord import Perm
from tests.fakediscord._constants import DEFAULT_BOT_PERMISSIONS
from tests.harness import MEMBER, eventually, settle

WITH_MANAGE_ROLES = DEFAULT_BOT_PERMISSIONS | Perm.MANAGE_ROLES


def components(message: dict) -> list[dict]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


def panel_buttons(message: dict) -> dict[str, str]:
    """label → custom_id of a panel's buttons."""
    return {c["label"]: c["custom_id"] for c in components(message) if c["type"] == 2}


def panels(world) -> list[dict]:
    return [m for m in world.fake.messages(world.text) if panel_buttons(m)]


def role_named(world, name: str) -> int:
    [role] = [r for r in world.fake.roles(world.guild) if r["name"] == name]
    return int(role["id"])


async def follow_blog(world, *, mention: bool = True):
    """A blog whose archive holds Travel (3 posts), Café (2) and News (1), followed in the
    text channel (mentioning the world's role); returns (blog, subscription id)."""
    blog = world.blog()
    for n in range(3):
        blog.publish(f"Trip {n}", categories=["Travel"])
    for n in range(2):
        blog.publish(f"Coffee {n}", categories=["Café"])
    blog.publish("Headline", categories=["News"])
    await world.start()
    options = {"url": blog.feed_url, "channel": world.text}
    if mention:
        options["mention"] = world.role
    await world.command("feed add", options)
    [sub] = await world.store.guild_subscriptions(world.guild)
    return blog, sub.id


async def pick_topics(world, sub_id: int, labels: list[str]) -> str:
    """Run `/feed roles` and tick `labels` in its menu; returns the admin's answer."""
    asked = await world.command("feed roles", {"feed": str(sub_id)})
    assert asked.ephemeral
    menu_message = asked.messages[-1]
    [menu] = [c for c in components(menu_message) if c["type"] == 3]
    values = [o["value"] for o in menu["options"] if o["label"] in labels]
    assert len(values) == len(labels), menu["options"]
    asking = menu_message["content"]  # the message is live: edited in place by the answer
    await world.fake.click(menu_message, menu["custom_id"], values=values)

    def answer() -> str | None:
        content = world.fake.message(int(menu_message["id"]))["content"]
        return content if content != asking else None

    return await eventually(answer, what="the menu's answer")


async def test_member_picks_a_topic_and_is_pinged_for_its_posts_only(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    blog, sub_id = await follow_blog(world)

    asked = await world.command("feed roles", {"feed": str(sub_id)})
    [menu] = [c for c in components(asked.messages[-1]) if c["type"] == 3]
    # most used first, the blog's own spelling
    assert [o["label"] for o in menu["options"]] == ["Travel", "Café", "News"]
    answer = await pick_topics(world, sub_id, ["Travel", "Café"])
    assert "Roles created" in answer

    travel, cafe = role_named(world, "Travel"), role_named(world, "Café")
    for role_id in (travel, cafe):
        role = world.fake.role(role_id)
        assert role["mentionable"] and role["permissions"] == "0"
    [create] = world.fake.requests_to("POST", rf"/guilds/{world.guild}/roles")[:1]
    assert "Gazette" in create.headers.get("X-Audit-Log-Reason", "")

    [panel] = await eventually(lambda: panels(world), what="the panel")
    buttons = panel_buttons(panel)
    assert list(buttons) == ["Travel", "Café"]

    reader = world.fake.add_user("reader")
    pressed = await world.fake.click(
        panel, buttons["Travel"], user_id=reader, user_permissions=MEMBER
    )
    assert pressed.ephemeral and "Travel" in pressed.content
    assert world.fake.member_roles(world.guild, reader) == {travel}
    [give] = world.fake.requests_to("PUT", rf"/guilds/{world.guild}/members/{reader}/roles/\d+")
    assert give.headers.get("X-Audit-Log-Reason")

    # matched as whole names, case and accents aside
    blog.publish("Off to Lisbon", categories=["travel"])
    await world.poll_now()
    [trip] = await eventually(world.announcements, what="the travel post")
    blog.publish("Election night", categories=["News"])
    blog.publish("Espresso", categories=["CAFE"])
    await world.poll_now()
    _, news, coffee = await eventually(
        lambda: len(world.announcements()) == 3 and world.announcements()
    )

    assert trip["content"] == f"<@&{world.role}> <@&{travel}>"
    assert set(trip["mention_roles"]) == {str(world.role), str(travel)}
    mentions = world.fake.message_request(int(trip["id"]))["allowed_mentions"]
    assert mentions["parse"] == [] and {str(r) for r in mentions["roles"]} == {
        str(world.role),
        str(travel),
    }
    # the reader holds Travel: pinged by the first post, not by the others
    held = {str(r) for r in world.fake.member_roles(world.guild, reader)}
    assert held & set(trip["mention_roles"])
    assert news["content"] == f"<@&{world.role}>" and not held & set(news["mention_roles"])
    assert coffee["content"] == f"<@&{world.role}> <@&{cafe}>"
    assert not held & set(coffee["mention_roles"])

    # pressed again: the role is taken back
    again = await world.fake.click(
        panel, buttons["Travel"], user_id=reader, user_permissions=MEMBER
    )
    assert "no longer" in again.content
    assert world.fake.member_roles(world.guild, reader) == set()


async def test_running_it_again_changes_the_topics_and_the_panel(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    # an existing role named like a topic, below Gazette's: linked when the admin picks it
    news_role = world.fake.add_role(world.guild, "news", mentionable=True)
    blog, sub_id = await follow_blog(world, mention=False)
    asked = await world.command("feed roles", {"feed": str(sub_id)})
    [menu] = [c for c in components(asked.messages[-1]) if c["type"] == 3]
    notes = {o["label"]: o.get("description") for o in menu["options"]}
    assert "links the existing role @news" in notes["News"]
    await pick_topics(world, sub_id, ["Travel", "News"])
    [panel] = await eventually(lambda: panels(world), what="the panel")
    assert list(panel_buttons(panel)) == ["Travel", "News"]
    travel = role_named(world, "Travel")

    answer = await pick_topics(world, sub_id, ["Café", "News"])
    assert "Removed: Travel" in answer
    # the role Gazette made is deleted; the linked one is left alone
    assert not world.fake.has_role(travel) and world.fake.has_role(news_role)
    [panel] = panels(world)  # the same message, edited
    await eventually(
        lambda: (
            list(panel_buttons(world.fake.message(int(panel["id"]))))
            == [
                "News",
                "Café",
            ]
            or list(panel_buttons(world.fake.message(int(panel["id"])))) == ["Café", "News"]
        )
    )

    blog.publish("Travel and news", categories=["Travel", "News"])
    await world.poll_now()
    [post] = await eventually(world.announcements)
    assert post["content"] == f"<@&{news_role}>"

    # nothing ticked: no topic, no panel
    answer = await pick_topics(world, sub_id, [])
    assert "No topics" in answer
    await eventually(lambda: panels(world) == [], what="the panel removed")


async def test_panel_answers_after_a_restart(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    await follow_blog(world)
    [sub] = await world.store.guild_subscriptions(world.guild)
    await pick_topics(world, sub.id, ["News"])
    [panel] = await eventually(lambda: panels(world))
    await world.restart()

    reader = world.fake.add_user("reader")
    pressed = await world.fake.click(
        panel, panel_buttons(panel)["News"], user_id=reader, user_permissions=MEMBER
    )
    assert pressed.ephemeral and "News" in pressed.content
    assert world.fake.member_roles(world.guild, reader) == {role_named(world, "News")}


async def test_a_role_deleted_by_hand_never_breaks_announcements(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    blog, sub_id = await follow_blog(world, mention=False)
    await pick_topics(world, sub_id, ["Travel", "Café", "News"])
    [panel] = await eventually(lambda: panels(world))
    travel, cafe, news = (role_named(world, n) for n in ("Travel", "Café", "News"))

    # deleted while Gazette runs: the topic is dropped and the panel follows
    world.fake.remove_role(travel)
    await eventually(
        lambda: "Travel" not in panel_buttons(world.fake.message(int(panel["id"]))),
        what="the panel without Travel",
    )
    # deleted while Gazette is away: skipped when announcing
    await world.stop()
    world.fake.remove_role(cafe)
    await world.start()

    blog.publish("Everything", categories=["Travel", "Café", "News"])
    await world.poll_now()
    [post] = await eventually(world.announcements, what="the announcement")
    assert post["content"] == f"<@&{news}>"
    roles = world.fake.message_request(int(post["id"]))["allowed_mentions"]["roles"]
    assert {str(r) for r in roles} == {str(news)}


async def test_without_manage_roles_the_admin_is_told_clearly(gazette_world):
    world = gazette_world
    _, sub_id = await follow_blog(world)
    asked = await world.command("feed roles", {"feed": str(sub_id)})
    assert asked.ephemeral and "Manage Roles" in asked.content
    assert world.fake.requests_to("POST", rf"/guilds/{world.guild}/roles") == []

    # given, used, then taken away: a member's press says so and changes nothing
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    await eventually(lambda: world.bot.get_guild(world.guild).me.guild_permissions.manage_roles)
    await pick_topics(world, sub_id, ["News"])
    [panel] = await eventually(lambda: panels(world))
    world.fake.set_bot_permissions(world.guild, DEFAULT_BOT_PERMISSIONS)
    await eventually(lambda: not world.bot.get_guild(world.guild).me.guild_permissions.manage_roles)
    reader = world.fake.add_user("reader")
    pressed = await world.fake.click(
        panel, panel_buttons(panel)["News"], user_id=reader, user_permissions=MEMBER
    )
    assert "Manage Roles" in pressed.content
    assert world.fake.member_roles(world.guild, reader) == set()


async def test_a_role_above_gazettes_is_never_linked_nor_given(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    above = world.fake.add_role(world.guild, "News", position=5)
    _, sub_id = await follow_blog(world)
    await pick_topics(world, sub_id, ["News"])
    news = [int(r["id"]) for r in world.fake.roles(world.guild) if r["name"] == "News"]
    assert len(news) == 2  # a role of its own was made; the one above is untouched
    [panel] = await eventually(lambda: panels(world))
    reader = world.fake.add_user("reader")
    await world.fake.click(
        panel, panel_buttons(panel)["News"], user_id=reader, user_permissions=MEMBER
    )
    assert above not in world.fake.member_roles(world.guild, reader)
    assert world.fake.member_roles(world.guild, reader) == {n for n in news if n != above}


async def test_a_forged_press_from_another_server_does_nothing(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    _, sub_id = await follow_blog(world)
    await pick_topics(world, sub_id, ["Travel"])
    [panel] = await eventually(lambda: panels(world))
    forged_id = panel_buttons(panel)["Travel"]
    travel = role_named(world, "Travel")

    other = world.fake.add_guild("Elsewhere", bot_permissions=WITH_MANAGE_ROLES)
    elsewhere = world.fake.add_channel(other, "general")
    await eventually(lambda: world.bot.get_guild(other), what="the other server")
    attacker = world.fake.add_user("attacker")
    button = {"type": 2, "style": 2, "label": "Travel", "custom_id": forged_id}
    forged = world.fake.post_user_message(
        elsewhere, "click me", user_id=attacker, components=[{"type": 1, "components": [button]}]
    )
    pressed = await world.fake.click(forged, forged_id, user_id=attacker, user_permissions=MEMBER)
    assert pressed.ephemeral and "no longer offered" in pressed.content
    # the same forgery inside the right server, on a message that is not the panel
    fake_panel = world.fake.post_user_message(
        world.text, "click me", user_id=attacker, components=[{"type": 1, "components": [button]}]
    )
    pressed = await world.fake.click(
        fake_panel, forged_id, user_id=attacker, user_permissions=MEMBER
    )
    assert "no longer offered" in pressed.content
    await settle(0.2)
    assert world.fake.requests_to("PUT", r"/guilds/\d+/members/\d+/roles/\d+") == []
    assert world.fake.member_roles(world.guild, attacker) == set()
    assert world.fake.member_roles(other, attacker) == set()
    assert world.fake.has_role(travel)


async def test_edits_of_an_announcement_ping_nobody(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    blog, sub_id = await follow_blog(world)
    await pick_topics(world, sub_id, ["Travel"])
    post = blog.publish("Lisbon", categories=["Travel"])
    await world.poll_now()
    [message] = await eventually(world.announcements)
    post.title = "Lisbon, again"
    blog.serve()
    await world.poll_now()
    edits = await eventually(
        lambda: world.fake.requests_to(
            "PATCH", rf"/channels/{world.text}/messages/{message['id']}"
        ),
        what="the edit",
    )
    assert edits[0].json["allowed_mentions"]["parse"] == []
    assert not edits[0].json["allowed_mentions"].get("roles")
    # the roles stay named as announced, without a new ping
    travel = role_named(world, "Travel")
    assert edits[0].json["content"] == message["content"] == f"<@&{world.role}> <@&{travel}>"


async def test_an_admin_links_an_existing_role_below_gazettes(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    globetrotters = world.fake.add_role(world.guild, "Globetrotters", mentionable=True)
    admins = world.fake.add_role(world.guild, "Admins", position=5)
    blog, sub_id = await follow_blog(world, mention=False)
    choices = await world.fake.autocomplete(
        world.guild,
        world.text,
        "feed roles",
        option="topic",
        value="tra",
        options={"feed": str(sub_id)},
    )
    assert [c["value"] for c in choices] == ["Travel"]

    refused = await world.command(
        "feed roles", {"feed": str(sub_id), "topic": "Travel", "role": admins}
    )
    assert refused.ephemeral and "above my own" in refused.content
    half = await world.command("feed roles", {"feed": str(sub_id), "topic": "Travel"})
    assert "both" in half.content
    assert await world.store.topic_roles(sub_id) == []

    linked = await world.command(
        "feed roles", {"feed": str(sub_id), "topic": "Travel", "role": globetrotters}
    )
    assert f"<@&{globetrotters}>" in linked.content
    assert world.fake.requests_to("POST", rf"/guilds/{world.guild}/roles") == []
    [panel] = await eventually(lambda: panels(world))
    reader = world.fake.add_user("reader")
    await world.fake.click(
        panel, panel_buttons(panel)["Travel"], user_id=reader, user_permissions=MEMBER
    )
    assert world.fake.member_roles(world.guild, reader) == {globetrotters}
    blog.publish("Lisbon", categories=["Travel"])
    await world.poll_now()
    [post] = await eventually(world.announcements)
    assert post["content"] == f"<@&{globetrotters}>"
    # unticked later, the linked role is left alone
    await pick_topics(world, sub_id, [])
    assert world.fake.has_role(globetrotters)


async def test_removing_the_feed_removes_its_panel_and_the_roles_gazette_made(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    news_role = world.fake.add_role(world.guild, "News", mentionable=True)
    _, sub_id = await follow_blog(world)
    await pick_topics(world, sub_id, ["Travel", "News"])
    await eventually(lambda: panels(world))
    travel = role_named(world, "Travel")
    removed = await world.command("feed remove", {"feed": str(sub_id)})
    assert "Stopped" in removed.content
    assert panels(world) == []
    assert not world.fake.has_role(travel) and world.fake.has_role(news_role)


async def test_a_role_with_moderator_powers_is_never_handed_out_on_a_panel(gazette_world):
    # a panel gives its roles to anyone who presses: a role that can delete messages, manage
    # roles or administer the server must never become one (an admin with Manage Server
    # alone, or a blog category named like the moderators' role, would hand it to everyone)
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    mods = world.fake.add_role(world.guild, "News", permissions=Perm.MANAGE_MESSAGES)
    admins = world.fake.add_role(world.guild, "Admins", permissions=Perm.ADMINISTRATOR)
    _, sub_id = await follow_blog(world, mention=False)

    refused = await world.command(
        "feed roles", {"feed": str(sub_id), "topic": "Travel", "role": admins}
    )
    assert refused.ephemeral and "moderat" in refused.content
    pingers = world.fake.add_role(world.guild, "Pingers", permissions=Perm.MENTION_EVERYONE)
    refused = await world.command(
        "feed roles", {"feed": str(sub_id), "topic": "Travel", "role": pingers}
    )
    assert "moderat" in refused.content
    assert await world.store.topic_roles(sub_id) == []

    # a category named like the moderators' role: a new role is made, theirs is not linked
    await pick_topics(world, sub_id, ["News"])
    [topic] = await world.store.topic_roles(sub_id)
    assert topic.created and topic.role_id != mods
    [panel] = await eventually(lambda: panels(world))
    reader = world.fake.add_user("reader")
    await world.fake.click(
        panel, panel_buttons(panel)["News"], user_id=reader, user_permissions=MEMBER
    )
    assert world.fake.member_roles(world.guild, reader) == {topic.role_id}

    # a linked role that gains such powers later is no longer given
    world.fake.set_role_permissions(topic.role_id, Perm.MANAGE_ROLES)
    await eventually(
        lambda: world.bot.get_guild(world.guild).get_role(topic.role_id).permissions.manage_roles,
        what="the role's new permissions",
    )
    other = world.fake.add_user("other")
    pressed = await world.fake.click(
        panel, panel_buttons(panel)["News"], user_id=other, user_permissions=MEMBER
    )
    assert pressed.ephemeral and "moderat" in pressed.content
    assert world.fake.member_roles(world.guild, other) == set()


async def test_a_forged_press_with_a_huge_topic_id_is_refused_quietly(gazette_world, caplog):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    await world.start()
    attacker = world.fake.add_user("attacker")
    for forged_id in ("gazette:topic:99999999999999999999", "gazette:topic:9223372036854775808"):
        button = {"type": 2, "style": 2, "label": "Travel", "custom_id": forged_id}
        forged = world.fake.post_user_message(
            world.text,
            "click me",
            user_id=attacker,
            components=[{"type": 1, "components": [button]}],
        )
        pressed = await world.fake.click(
            forged, forged_id, user_id=attacker, user_permissions=MEMBER
        )
        assert pressed.ephemeral and "no longer offered" in pressed.content
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_a_menu_answered_after_the_feed_was_removed_makes_no_roles(gazette_world, caplog):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    _, sub_id = await follow_blog(world)
    asked = await world.command("feed roles", {"feed": str(sub_id)})
    menu_message = asked.messages[-1]
    [menu] = [c for c in components(menu_message) if c["type"] == 3]
    # another admin stops following the feed while the menu is open
    await world.command("feed remove", {"feed": str(sub_id)})
    values = [o["value"] for o in menu["options"] if o["label"] == "Travel"]
    asking = menu_message["content"]  # the message is live: edited in place by the answer
    await world.fake.click(menu_message, menu["custom_id"], values=values)

    def answer() -> str | None:
        content = world.fake.message(int(menu_message["id"]))["content"]
        return content if content != asking else None

    assert "no longer followed" in await eventually(answer, what="the menu's answer")
    assert world.fake.requests_to("POST", rf"/guilds/{world.guild}/roles") == []
    assert panels(world) == []
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_an_admin_links_only_roles_they_could_give_themselves(gazette_world):
    # Discord lets a member give a role only with Manage Roles and from below their own
    # highest role; a panel must not let an admin with Manage Server alone hand out (to
    # everyone, themselves included) a role that opens staff channels
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    staff = world.fake.add_role(world.guild, "News")  # gates channels by overwrites
    _, sub_id = await follow_blog(world, mention=False)
    manager = world.fake.add_user("manager")
    as_manager = {
        "user_id": manager,
        "user_permissions": MEMBER | Perm.MANAGE_GUILD,
    }
    refused = await world.command(
        "feed roles", {"feed": str(sub_id), "topic": "Travel", "role": staff}, **as_manager
    )
    assert refused.ephemeral and "Manage Roles" in refused.content
    assert await world.store.topic_roles(sub_id) == []

    # picking the category named like it makes a role of its own instead
    asked = await world.command("feed roles", {"feed": str(sub_id)}, **as_manager)
    menu_message = asked.messages[-1]
    [menu] = [c for c in components(menu_message) if c["type"] == 3]
    [news] = [o for o in menu["options"] if o["label"] == "News"]
    assert news["description"].startswith("creates a role")
    asking = menu_message["content"]
    await world.fake.click(menu_message, menu["custom_id"], values=[news["value"]], **as_manager)
    await eventually(
        lambda: world.fake.message(int(menu_message["id"]))["content"] != asking,
        what="the menu's answer",
    )
    [topic] = await world.store.topic_roles(sub_id)
    assert topic.created and topic.role_id != staff


async def test_a_role_named_by_a_hostile_blog_is_shown_escaped_when_replaced(gazette_world):
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    hostile = "**Big** [deal](https://evil.test)"
    blog = world.blog()
    blog.publish("Trip", categories=[hostile])
    await world.start()
    await world.command("feed add", {"url": blog.feed_url, "channel": world.text})
    [sub] = await world.store.guild_subscriptions(world.guild)
    await pick_topics(world, sub.id, [hostile])
    mine = world.fake.add_role(world.guild, "Readers", mentionable=True)
    linked = await world.command(
        "feed roles", {"feed": str(sub.id), "topic": hostile, "role": mine}
    )
    assert "is deleted" in linked.content
    assert "[deal](https://evil.test)" not in linked.content
    assert "**Big**" not in linked.content


async def test_a_blog_category_named_like_a_staff_role_never_hands_it_out(gazette_world):
    # a hostile blog names a category like the server's moderator role: picking that topic
    # must not let every member take a role that carries permissions
    world = gazette_world
    world.fake.set_bot_permissions(world.guild, WITH_MANAGE_ROLES)
    staff = world.fake.add_role(
        world.guild, "News", permissions=Perm.MANAGE_MESSAGES | Perm.MANAGE_THREADS
    )
    _, sub_id = await follow_blog(world, mention=False)
    asked = await world.command("feed roles", {"feed": str(sub_id)})
    [menu] = [c for c in components(asked.messages[-1]) if c["type"] == 3]
    notes = {o["label"]: o.get("description") for o in menu["options"]}
    assert "links" not in notes["News"] and "permissions" in notes["News"]
    await pick_topics(world, sub_id, ["News"])
    news = [int(r["id"]) for r in world.fake.roles(world.guild) if r["name"] == "News"]
    assert len(news) == 2  # a role of its own, without permissions
    [panel] = await eventually(lambda: panels(world))
    reader = world.fake.add_user("reader")
    await world.fake.click(
        panel, panel_buttons(panel)["News"], user_id=reader, user_permissions=MEMBER
    )
    await eventually(lambda: world.fake.member_roles(world.guild, reader))
    assert world.fake.member_roles(world.guild, reader) == {n for n in news if n != staff}
