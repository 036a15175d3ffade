"""The layers hold: the services Gazette is built on, and the operator commands, work without
discord.py (only bot/app.py, bot/startup.py, bot/tree.py and the cogs talk to Discord).

Each check runs in a fresh interpreter, where nothing was imported before.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot

ROOT = Path(__file__).resolve().parents[1]
CAFE = Path(__file__).parent / "fixtures" / "wxr" / "cafe-fixture.wxr"

# every module of bot/ but the bot itself: a new service module is checked as soon as it exists
THE_BOT = {"bot.app", "bot.startup", "bot.tree"}
DISCORD_FREE = sorted(
    m.name for m in pkgutil.walk_packages(bot.__path__, "bot.") if m.name not in THE_BOT
)


def python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize("module", DISCORD_FREE)
def test_service_imports_without_discord(module):
    check = f"import sys, {module}; assert 'discord' not in sys.modules, 'discord.py was loaded'"
    done = python("-c", check)
    assert done.returncode == 0, done.stderr


def discord_imports(importtime: str) -> list[str]:
    """The discord.py modules named in the output of `python -X importtime`."""
    names = [line.rsplit("|", 1)[-1].strip() for line in importtime.splitlines()]
    return [name for name in names if name == "discord" or name.startswith("discord.")]


def test_every_service_is_checked():
    assert {"bot.feeds", "bot.render.markdown", "bot.search", "bot.store", "bot.comments"} <= set(
        DISCORD_FREE
    )


@pytest.mark.parametrize("command", ["import", "search", "opml"])
def test_operator_commands_run_without_discord(command):
    done = python("-X", "importtime", "-m", "bot", command, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    assert discord_imports(done.stderr) == []


def test_an_import_and_a_search_run_without_discord(tmp_path):
    db = str(tmp_path / "gazette.sqlite3")
    feed = "https://cafe.example/feed/"
    for argv in (
        ["import", str(CAFE), "--feed", feed, "--db", db],
        ["search", "crème", "--db", db],
    ):
        done = python("-X", "importtime", "-m", "bot", *argv)
        assert done.returncode == 0, done.stderr
        assert discord_imports(done.stderr) == [], argv


def test_the_bot_loads_no_http_server_unless_it_listens():
    """aiohttp.web (1.4 MiB of RSS) is for the WebSub listener: without PUBLIC_URL the bot
    and every cog import without it; bot.listener, which the listener starts, brings it."""
    cogs = ", ".join(f"cogs.{name}" for name in ("feeds", "announcer", "discussion", "archive"))
    check = (
        f"import sys, bot.app, bot.startup, {cogs}, cogs.replies;"
        " assert 'aiohttp.web' not in sys.modules, 'aiohttp.web was loaded';"
        " import bot.listener; assert 'aiohttp.web' in sys.modules"
    )
    done = python("-c", check)
    assert done.returncode == 0, done.stderr
