"""Discord's limits on slash commands: the fake refuses what Discord refuses, and the bot's
whole command tree (every `/feed` subcommand included) registers within them."""

from __future__ import annotations

import copy

import aiohttp
import pytest

from tests.fakediscord import FakeDiscord
from tests.fakediscord._command_limits import MAX_COMMAND_CHARS, command_characters

STRING, SUB_COMMAND, SUB_COMMAND_GROUP = 3, 1, 2
DEFAULT_DESCRIPTION = "…"  # what discord.py sends for an option nobody described


def option(name: str, **fields) -> dict:
    return {"type": STRING, "name": name, "description": f"The {name}", **fields}


VALID = {
    "name": "feed",
    "description": "Follow blogs",
    "options": [
        {
            "type": SUB_COMMAND,
            "name": "add",
            "description": "Follow one",
            "options": [option("url", required=True), option("note")],
        },
        {
            "type": SUB_COMMAND_GROUP,
            "name": "roles",
            "description": "Topic roles",
            "options": [{"type": SUB_COMMAND, "name": "panel", "description": "Post a panel"}],
        },
    ],
}


def broken(change) -> dict:
    spec = copy.deepcopy(VALID)
    change(spec)
    return spec


@pytest.fixture
async def fake():
    fake = FakeDiscord()
    guild = fake.add_guild("Readers")
    await fake.start()
    try:
        yield fake, guild
    finally:
        await fake.stop()


async def register(fake: FakeDiscord, guild: int, specs: list[dict]) -> tuple[int, dict | list]:
    url = f"{fake.api_base}/applications/{fake.application_id}/guilds/{guild}/commands"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http, http.put(url, json=specs, headers=headers) as r:
        return r.status, await r.json()


def _options(spec):
    return spec["options"]


def _add(spec):
    return spec["options"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: _options(s).extend(option(f"o{n}") for n in range(24)), "options"),
        (lambda s: _add(s)["options"].extend(option(f"o{n}") for n in range(24)), "options"),
        (lambda s: s.update(name="Feed"), "name"),
        (lambda s: s.update(name="f" * 33), "name"),
        (lambda s: _add(s).update(name="add feed"), "name"),
        (lambda s: s.update(description=""), "description"),
        (lambda s: _add(s)["options"][1].update(description="d" * 101), "description"),
        (lambda s: _add(s)["options"].reverse(), "options"),  # required after optional
        (
            lambda s: _add(s)["options"][1].update(
                choices=[{"name": f"c{n}", "value": f"c{n}"} for n in range(26)]
            ),
            "choices",
        ),
        (lambda s: _options(s)[1]["options"].append(copy.deepcopy(_options(s)[1])), "options"),
        (lambda s: _add(s)["options"].append(copy.deepcopy(_add(s))), "options"),  # sub in sub
    ],
)
async def test_the_fake_refuses_a_command_beyond_discords_limits(fake, change, field):
    fake, guild = fake
    status, body = await register(fake, guild, [VALID, broken(change)])
    assert status == 400 and body["code"] == 50035, body
    assert field in repr(body["errors"]) and "'1'" in repr(body["errors"])  # the 2nd command
    assert fake.commands(guild) == []  # nothing of the list is registered


async def test_the_fake_counts_8000_characters_per_top_level_command(fake):
    fake, guild = fake
    # 75 subcommands of 100-character descriptions in 3 groups: every level within its own
    # limits, the whole over 8,000 characters
    groups = [
        {
            "type": SUB_COMMAND_GROUP,
            "name": f"g{g}",
            "description": "d" * 100,
            "options": [
                {"type": SUB_COMMAND, "name": f"s{n}", "description": "d" * 100} for n in range(25)
            ],
        }
        for g in range(3)
    ]
    big = {"name": "big", "description": "A big one", "options": groups}
    assert command_characters(big) > MAX_COMMAND_CHARS
    status, body = await register(fake, guild, [big])
    assert status == 400 and "APPLICATION_COMMAND_TOO_LARGE" in repr(body)
    big["options"] = groups[:2]
    assert command_characters(big) <= MAX_COMMAND_CHARS
    status, body = await register(fake, guild, [big, VALID])
    assert status == 200, body
    assert {c["name"] for c in fake.commands(guild)} == {"big", "feed"}


def described_everywhere(node: dict, path: str = "") -> list[str]:
    """Paths of the options (at any level) left with discord.py's default description."""
    missing = []
    for child in node.get("options") or []:
        where = f"{path} {child['name']}".strip()
        if child.get("description") in (None, "", DEFAULT_DESCRIPTION):
            missing.append(where)
        missing += described_everywhere(child, where)
    return missing


async def test_the_bots_command_tree_registers_within_discords_limits(gazette_world):
    world = gazette_world
    await world.start()
    [sync] = world.fake.command_syncs  # the fake checked every command of it, as Discord does
    registered = {c["name"]: c for c in world.fake.commands(world.guild)}
    assert {"feed", "archive", "discuss", "reply"} <= set(registered)
    feed = registered["feed"]
    feed_chars = command_characters(feed)
    print(
        f"/feed: {len(feed['options'])} subcommands, {feed_chars} of {MAX_COMMAND_CHARS} characters"
    )
    assert len(feed["options"]) <= 25 and feed_chars <= MAX_COMMAND_CHARS
    assert "filter" in {o["name"] for o in feed["options"]}
    for spec in sync.commands:
        assert described_everywhere(spec) == [], spec["name"]
