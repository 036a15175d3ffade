"""The fake Discord works with a real discord.py client: a plain commands.Bot with one
slash-command group, driven over loopback HTTP and the gateway WebSocket."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import CallbackType, ChannelType, FakeDiscord, Perm
from tests.fakediscord_fixtures import fake_discord  # noqa: F401

FRUITS = ["Apple", "Apricot", "Banana", "Blackberry", "Cherry"]


@dataclass
class World:
    guild: int
    general: int
    news: int
    forum: int


class NameModal(discord.ui.Modal, title="Your name"):
    name = discord.ui.TextInput(label="Name", custom_id="modal:name")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"Nice to meet you, {self.name.value}", ephemeral=True
        )


class VoteView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.votes = 0

    @discord.ui.button(label="Up", custom_id="vote:up", style=discord.ButtonStyle.primary)
    async def up(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.votes += 1
        await interaction.response.edit_message(content=f"Votes: {self.votes}", view=self)


def make_bot(guild_id: int) -> commands.Bot:
    intents = discord.Intents.default()
    intents.members = False
    intents.presences = False
    intents.message_content = False
    bot = commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=intents,
        help_command=None,
        guild_ready_timeout=0.05,
    )
    demo = app_commands.Group(name="demo", description="Demo commands")

    @demo.command(description="Answer privately")
    async def ping(interaction: discord.Interaction) -> None:
        admin = interaction.permissions.manage_guild
        can_send = interaction.app_permissions.send_messages
        await interaction.response.send_message(
            f"pong admin={admin} bot_can_send={can_send}", ephemeral=True
        )

    @demo.command(description="Greet someone")
    @app_commands.describe(name="Who to greet", channel="Where they are")
    async def greet(
        interaction: discord.Interaction, name: str, channel: discord.TextChannel | None = None
    ) -> None:
        where = channel.mention if channel else "here"
        await interaction.response.send_message(f"Hello {name} in {where}")

    @demo.command(description="Think, then answer")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.sleep(0.01)
        await interaction.followup.send("done thinking")
        await interaction.followup.send("and one more", ephemeral=True)

    async def fruit_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        found = [f for f in FRUITS if f.lower().startswith(current.lower())]
        return [app_commands.Choice(name=f, value=f.lower()) for f in found]

    @demo.command(description="Pick a fruit")
    @app_commands.autocomplete(fruit=fruit_choices)
    async def pick(interaction: discord.Interaction, fruit: str) -> None:
        await interaction.response.send_message(f"You picked {fruit}", ephemeral=True)

    @demo.command(description="Start a vote")
    async def vote(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Votes: 0", view=VoteView())

    @demo.command(description="Ask for a name")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NameModal())

    @app_commands.command(description="Admins only")
    @app_commands.default_permissions(manage_guild=True)
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("secret", ephemeral=True)

    bot.tree.add_command(demo, guild=discord.Object(guild_id))
    bot.tree.add_command(secret, guild=discord.Object(guild_id))
    return bot


@pytest.fixture
def world(fake_discord: FakeDiscord) -> World:  # noqa: F811
    guild = fake_discord.add_guild("Blog fans")
    return World(
        guild=guild,
        general=fake_discord.add_channel(guild, "general"),
        news=fake_discord.add_channel(guild, "news", type=ChannelType.NEWS),
        forum=fake_discord.add_channel(
            guild, "articles", type=ChannelType.FORUM, tags=["Release", "Howto"]
        ),
    )


@pytest.fixture
async def bot(fake_discord: FakeDiscord, world: World) -> AsyncIterator[commands.Bot]:  # noqa: F811
    client = make_bot(world.guild)
    async with fake_discord.run_client(client):
        await client.tree.sync(guild=discord.Object(world.guild))
        yield client


async def eventually(predicate, timeout: float = 2.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# -- connecting -------------------------------------------------------------------------


async def test_bot_connects_and_sees_the_guild(fake_discord, world, bot):  # noqa: F811
    guild = bot.get_guild(world.guild)
    assert guild is not None and guild.name == "Blog fans"
    assert {c.name for c in guild.channels} == {"general", "news", "articles"}
    assert isinstance(guild.get_channel(world.news), discord.TextChannel)
    assert guild.get_channel(world.news).is_news()
    forum = guild.get_channel(world.forum)
    assert isinstance(forum, discord.ForumChannel)
    assert [t.name for t in forum.available_tags] == ["Release", "Howto"]
    assert guild.me is not None
    assert guild.get_channel(world.general).permissions_for(guild.me).send_messages
    assert fake_discord.connected
    identify = await fake_discord.wait_for_identify()
    assert identify["intents"] == bot.intents.value
    assert len(fake_discord.command_syncs) == 1
    assert fake_discord.command_syncs[0].guild_id == world.guild
    assert [c["name"] for c in fake_discord.commands(world.guild)] == ["demo", "secret"]


async def test_json_answers_have_the_exact_content_type(fake_discord, world, bot):  # noqa: F811
    async with bot.http._HTTPClient__session.get(f"{fake_discord.api_base}/gateway") as resp:
        assert resp.headers["Content-Type"] == "application/json"


async def test_wrong_token_is_a_login_failure(fake_discord, world):  # noqa: F811
    client = make_bot(world.guild)
    with pytest.raises(discord.LoginFailure):
        async with fake_discord.run_client(client, token="not-the-token"):
            pass
    assert client.is_closed()


async def test_refused_gateway_fails_the_connect(fake_discord, world):  # noqa: F811
    fake_discord.refuse_gateway = True
    client = make_bot(world.guild)
    await client.login(fake_discord.token)
    try:
        with pytest.raises(aiohttp_errors()):
            await client.connect(reconnect=False)
    finally:
        await client.close()
    assert fake_discord.gateway_attempts == 1
    assert not fake_discord.connected


def aiohttp_errors() -> tuple[type[BaseException], ...]:
    import aiohttp

    return (aiohttp.WSServerHandshakeError,)


async def test_a_restarted_bot_reconnects_to_the_same_state(fake_discord, world, bot):  # noqa: F811
    await bot.close()
    await fake_discord.wait_until_disconnected()
    second = make_bot(world.guild)
    async with fake_discord.run_client(second):
        assert second.get_guild(world.guild) is not None
        result = await fake_discord.invoke(world.guild, world.general, "demo ping")
        assert result.content.startswith("pong")
    assert len(fake_discord.identifies) == 2
    assert len(fake_discord.command_syncs) == 1  # the second bot did not sync


async def test_dropped_gateway_is_resumed(fake_discord, world, bot):  # noqa: F811
    await fake_discord.close_gateway()
    await fake_discord.wait_for_resume()
    result = await fake_discord.invoke(world.guild, world.general, "demo ping")
    assert result.content.startswith("pong")
    assert len(fake_discord.identifies) == 1


# -- slash commands ---------------------------------------------------------------------


async def test_slash_command_answer_is_ephemeral(fake_discord, world, bot):  # noqa: F811
    result = await fake_discord.invoke(world.guild, world.general, "demo ping")
    assert result.type == CallbackType.CHANNEL_MESSAGE
    assert result.ephemeral and result.flags & 64
    assert result.content == "pong admin=True bot_can_send=True"  # the default user owns the guild
    assert not result.deferred
    # ephemeral answers are not in the channel
    assert fake_discord.messages(world.general, include_interactions=True) == []

    visitor = fake_discord.add_user("visitor")
    result = await fake_discord.invoke(world.guild, world.general, "demo ping", user_id=visitor)
    assert result.content == "pong admin=False bot_can_send=True"


async def test_slash_command_with_string_and_channel_options(fake_discord, world, bot):  # noqa: F811
    result = await fake_discord.invoke(
        world.guild, world.general, "demo greet", options={"name": "Ada", "channel": world.news}
    )
    assert result.content == f"Hello Ada in <#{world.news}>"
    assert not result.ephemeral
    sent = result.payload["data"]["options"][0]["options"]
    assert {o["name"]: o["type"] for o in sent} == {"name": 3, "channel": 7}
    assert str(world.news) in result.payload["data"]["resolved"]["channels"]
    public = fake_discord.messages(world.general, include_interactions=True)
    assert [m["content"] for m in public] == [result.content]
    assert fake_discord.messages(world.general) == []


async def test_invoke_refuses_what_discord_would_not_send(fake_discord, world, bot):  # noqa: F811
    with pytest.raises(ValueError, match="required option 'name'"):
        await fake_discord.invoke(world.guild, world.general, "demo greet")
    with pytest.raises(ValueError, match="channel types"):
        await fake_discord.invoke(
            world.guild, world.general, "demo greet", options={"name": "x", "channel": world.forum}
        )
    with pytest.raises(LookupError, match="registered"):
        await fake_discord.invoke(world.guild, world.general, "nothing")
    visitor = fake_discord.add_user("visitor")
    with pytest.raises(PermissionError):
        await fake_discord.invoke(world.guild, world.general, "secret", user_id=visitor)
    result = await fake_discord.invoke(world.guild, world.general, "secret")
    assert result.content == "secret"


async def test_deferred_command_and_followups(fake_discord, world, bot):  # noqa: F811
    result = await fake_discord.invoke(world.guild, world.general, "demo slow")
    assert result.type == CallbackType.DEFERRED_CHANNEL_MESSAGE and result.deferred
    # the first followup replaced the "thinking" message, keeping the deferral's visibility
    assert result.content == "done thinking"
    assert result.ephemeral
    assert not result.flags & 128  # no longer loading
    followups = await result.wait_for_followups(2)
    assert [m["content"] for m in followups] == ["done thinking", "and one more"]
    assert followups[0] is result.message
    assert all(m["flags"] & 64 for m in followups)
    # followups carry no bot token (the interaction token is in the URL)
    webhook_posts = fake_discord.requests_to("POST", r"/webhooks/\d+/[^/]+")
    assert len(webhook_posts) == 2
    assert all("Authorization" not in r.headers for r in webhook_posts)
    assert all(r.query.get("wait") == "1" for r in webhook_posts)


async def test_autocomplete(fake_discord, world, bot):  # noqa: F811
    choices = await fake_discord.autocomplete(
        world.guild, world.general, "demo pick", option="fruit", value="ap"
    )
    assert choices == [{"name": "Apple", "value": "apple"}, {"name": "Apricot", "value": "apricot"}]
    result = await fake_discord.invoke(
        world.guild, world.general, "demo pick", options={"fruit": "cherry"}
    )
    assert result.content == "You picked cherry"


async def test_button_click_updates_the_message(fake_discord, world, bot):  # noqa: F811
    result = await fake_discord.invoke(world.guild, world.general, "demo vote")
    assert result.content == "Votes: 0"
    button = result.components[0]["components"][0]
    assert button["custom_id"] == "vote:up"

    click = await fake_discord.click(result, "vote:up")
    assert click.type == CallbackType.UPDATE_MESSAGE
    assert click.content == "Votes: 1"
    assert click.message["id"] == result.message["id"]
    click = await fake_discord.click(result.message["id"], "vote:up")
    assert click.content == "Votes: 2"
    with pytest.raises(LookupError):
        await fake_discord.click(result, "vote:down")


async def test_modal_round_trip(fake_discord, world, bot):  # noqa: F811
    opened = await fake_discord.invoke(world.guild, world.general, "demo ask")
    assert opened.type == CallbackType.MODAL
    assert opened.modal["title"] == "Your name"
    submitted = await fake_discord.submit_modal(opened, {"modal:name": "Grace"})
    assert submitted.content == "Nice to meet you, Grace" and submitted.ephemeral


async def test_answering_too_late_is_unknown_interaction(fake_discord, world, bot):  # noqa: F811
    errors: list[Exception] = []
    late = app_commands.Group(name="late", description="Too slow")

    @late.command(description="Sleeps past the deadline")
    async def nap(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.1)
        try:
            await interaction.response.send_message("finally")
        except discord.NotFound as exc:
            errors.append(exc)

    bot.tree.add_command(late, guild=discord.Object(world.guild))
    await bot.tree.sync(guild=discord.Object(world.guild))
    fake_discord.interaction_deadline = 0.05
    result = await fake_discord.invoke(world.guild, world.general, "late nap", wait=False)
    await eventually(lambda: errors)
    assert errors[0].code == 10062
    assert not result.answered


# -- messages, faults and rate limits -----------------------------------------------------


async def test_send_message_with_nonce_is_deduplicated(fake_discord, world, bot):  # noqa: F811
    role = fake_discord.add_role(world.guild, "readers", mentionable=True)
    channel = bot.get_channel(world.general)
    mentions = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(role)])
    first = await channel.send(f"New post <@&{role}>", nonce=424242, allowed_mentions=mentions)
    again = await channel.send(f"New post <@&{role}>", nonce=424242, allowed_mentions=mentions)
    assert again.id == first.id
    stored = fake_discord.messages(world.general)
    assert len(stored) == 1
    assert stored[0]["content"] == f"New post <@&{role}>"
    assert stored[0]["author"]["id"] == str(bot.user.id)
    assert stored[0]["mention_roles"] == [str(role)]
    sent = fake_discord.message_request(first.id)
    assert sent["nonce"] == "424242" and sent["enforce_nonce"] is True
    assert sent["allowed_mentions"]["parse"] == []
    assert sent["allowed_mentions"]["roles"] == [role]
    # the bot hears its own message over the gateway, as on Discord
    await eventually(lambda: bot._connection._get_message(first.id) is not None)


async def test_message_limits_are_enforced(fake_discord, world, bot):  # noqa: F811
    channel = bot.get_channel(world.general)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=discord.Embed(description="x" * 4097))
    assert caught.value.status == 400 and caught.value.code == 50035
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=discord.Embed(title="t", url="/relative/link"))
    assert caught.value.code == 50035
    assert fake_discord.messages(world.general) == []


async def test_forbidden_fault_surfaces_in_the_bot(fake_discord, world, bot):  # noqa: F811
    fault = fake_discord.fail("POST", r"/channels/\d+/messages", 403)
    channel = bot.get_channel(world.general)
    with pytest.raises(discord.Forbidden) as caught:
        await channel.send("hello")
    assert caught.value.code == 50013
    assert fault.hits == 1
    await channel.send("hello again")  # the fault was for one request only
    assert [m["content"] for m in fake_discord.messages(world.general)] == ["hello again"]


async def test_channel_overwrite_denies_the_bot(fake_discord, world, bot):  # noqa: F811
    fake_discord.set_bot_overwrite(world.general, deny=Perm.SEND_MESSAGES)
    channel = bot.get_channel(world.general)
    await eventually(lambda: not channel.permissions_for(channel.guild.me).send_messages)
    with pytest.raises(discord.Forbidden):
        await channel.send("hello")
    result = await fake_discord.invoke(world.guild, world.general, "demo ping")
    assert result.content == "pong admin=True bot_can_send=False"  # interaction.app_permissions
    assert fake_discord.bot_permissions(world.news) & Perm.SEND_MESSAGES


async def test_rate_limit_is_honoured(fake_discord, world, bot):  # noqa: F811
    fake_discord.rate_limit("POST", r"/channels/\d+/messages", retry_after=0.2)
    channel = bot.get_channel(world.general)
    started = time.monotonic()
    message = await channel.send("after the wait")
    assert time.monotonic() - started >= 0.2
    posts = fake_discord.requests_to("POST", rf"/channels/{world.general}/messages")
    assert [r.status for r in posts] == [429, 200]
    assert fake_discord.messages(world.general)[0]["id"] == str(message.id)


# -- threads, forums, webhooks, announcements -------------------------------------------


async def test_threads_forum_posts_webhooks_and_crossposts(fake_discord, world, bot):  # noqa: F811
    news = bot.get_channel(world.news)
    post = await news.send("A new article")
    await post.publish()
    assert fake_discord.is_published(post.id)
    with pytest.raises(discord.HTTPException) as caught:
        await post.publish()
    assert caught.value.code == 40033  # already crossposted

    thread = await post.create_thread(name="Comments", auto_archive_duration=10080)
    assert thread.id == post.id
    stored = fake_discord.channel(thread.id)
    assert stored["thread_metadata"]["auto_archive_duration"] == 10080
    await eventually(lambda: bot.get_channel(thread.id) is not None)  # THREAD_CREATE arrived

    forum = bot.get_channel(world.forum)
    tag = forum.get_tag(fake_discord.tag_id(world.forum, "Release"))
    created = await forum.create_thread(name="Release 1.0", content="Out now", applied_tags=[tag])
    assert created.message.content == "Out now"
    assert fake_discord.channel(created.thread.id)["applied_tags"] == [str(tag.id)]
    assert fake_discord.message_request(created.thread.id)["applied_tags"] == [str(tag.id)]

    webhook = await news.create_webhook(name="Comment mirror")
    sent = await webhook.send(
        "Nice article!",
        username="Alice",
        avatar_url="https://example.org/alice.png",
        thread=thread,
        wait=True,
    )
    mirrored = fake_discord.messages(thread.id)
    assert [m["content"] for m in mirrored] == ["Nice article!"]
    assert mirrored[0]["author"]["username"] == "Alice"
    assert fake_discord.message_request(sent.id)["avatar_url"] == "https://example.org/alice.png"
    await webhook.edit_message(sent.id, content="Nice article! (edited)", thread=thread)
    assert fake_discord.message(sent.id)["content"] == "Nice article! (edited)"

    await thread.edit(archived=True, locked=True)
    assert fake_discord.channel(thread.id)["thread_metadata"]["locked"] is True
    await thread.delete()
    assert not fake_discord.has_channel(thread.id)
    await eventually(lambda: bot.get_channel(thread.id) is None)  # THREAD_DELETE arrived


async def test_archived_threads(fake_discord, world, bot):  # noqa: F811
    channel = bot.get_channel(world.general)
    post = await channel.send("post")
    thread = await post.create_thread(name="Talk")
    await thread.edit(archived=True)
    woke = await thread.send(
        "wakes it up"
    )  # an unlocked archived thread is unarchived by a message
    assert fake_discord.channel(thread.id)["thread_metadata"]["archived"] is False
    await thread.edit(archived=True, locked=True)
    fake_discord.set_bot_permissions(
        world.guild, fake_discord.bot_permissions(world.general) & ~Perm.MANAGE_THREADS
    )
    with pytest.raises(discord.HTTPException) as caught:
        await thread.send("locked out")
    assert caught.value.code == 50083
    with pytest.raises(discord.HTTPException) as caught:
        await woke.edit(content="edited")
    assert caught.value.code == 50083


async def test_file_upload_is_stored_as_an_attachment(fake_discord, world, bot):  # noqa: F811
    channel = bot.get_channel(world.general)
    sent = await channel.send("see file", file=discord.File(io.BytesIO(b"abc"), "notes.txt"))
    assert [a.filename for a in sent.attachments] == ["notes.txt"]
    stored = fake_discord.messages(world.general)[0]
    assert stored["attachments"][0]["size"] == 3
    assert fake_discord.requests[-1].files[0]["filename"] == "notes.txt"


async def test_moderator_actions_reach_the_bot(fake_discord, world, bot):  # noqa: F811
    deleted: list[int] = []

    async def on_raw_message_delete(payload: discord.RawMessageDeleteEvent) -> None:
        deleted.append(payload.message_id)

    bot.add_listener(on_raw_message_delete)
    message = await bot.get_channel(world.general).send("to be removed")
    fake_discord.remove_message(message.id)
    await eventually(lambda: deleted == [message.id])

    extra = fake_discord.add_channel(world.guild, "extra")
    await eventually(lambda: bot.get_channel(extra) is not None)
    fake_discord.remove_channel(extra)
    await eventually(lambda: bot.get_channel(extra) is None)

    role = fake_discord.add_role(world.guild, "subscribers")
    await eventually(lambda: bot.get_guild(world.guild).get_role(role) is not None)

    fake_discord.remove_guild(world.guild)
    await eventually(lambda: bot.get_guild(world.guild) is None)
    with pytest.raises(LookupError):
        fake_discord.channel(world.general)


async def test_roles_are_managed_as_discord_checks_it(fake_discord, world, bot):  # noqa: F811
    guild = bot.get_guild(world.guild)
    member = await guild.fetch_member(fake_discord.add_user("reader"))
    # without Manage Roles: 403 for creating, giving, deleting
    with pytest.raises(discord.Forbidden):
        await guild.create_role(name="Travel")
    fake_discord.set_bot_permissions(
        world.guild, int(guild.me.guild_permissions.value) | Perm.MANAGE_ROLES
    )
    await eventually(lambda: guild.me.guild_permissions.manage_roles)
    role = await guild.create_role(name="Travel", mentionable=True, reason="topic")
    await eventually(lambda: guild.get_role(role.id) is not None)
    # created at the bottom: below the bot's own role, which moved up
    assert guild.get_role(role.id) < guild.me.top_role
    await member.add_roles(role, reason="asked")
    assert fake_discord.member_roles(world.guild, member.id) == {role.id}
    [given] = fake_discord.requests_to("PUT", rf"/guilds/{world.guild}/members/\d+/roles/\d+")
    assert given.headers["X-Audit-Log-Reason"] == "asked"
    # a role at or above the bot's highest role is out of its reach
    above = fake_discord.add_role(world.guild, "Mods", position=10)
    await eventually(lambda: guild.get_role(above) is not None)
    with pytest.raises(discord.Forbidden):
        await member.add_roles(discord.Object(above))
    with pytest.raises(discord.Forbidden):
        await guild.get_role(above).delete()
    await member.remove_roles(role)
    assert fake_discord.member_roles(world.guild, member.id) == set()
    # deleted by a moderator: the bot hears of it
    fake_discord.give_role(world.guild, member.id, role.id)
    fake_discord.remove_role(role.id)
    await eventually(lambda: guild.get_role(role.id) is None)
    assert fake_discord.member_roles(world.guild, member.id) == set()
