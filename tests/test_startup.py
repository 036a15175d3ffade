"""`python -m bot` as an operator runs it: configuration from the environment and `.env`,
one clear line on stderr for every start-up failure, a ready line when it works."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from tests.fakediscord import FakeDiscord

ROOT = Path(__file__).resolve().parent.parent


async def run_bot(tmp_path: Path, env: dict[str, str], *, until: str | None = None):
    """Start `python -m bot` in tmp_path; stop it with SIGTERM once `until` is logged."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    seen = []

    async def read_until():
        while line := await proc.stderr.readline():
            seen.append(line.decode())
            if until and until in seen[-1]:
                proc.send_signal(signal.SIGTERM)

    await asyncio.wait_for(asyncio.gather(read_until(), proc.wait()), 20)
    return proc.returncode, "".join(seen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def fake():
    fake = FakeDiscord()
    fake.add_guild("Readers")
    await fake.start()
    yield fake
    await fake.stop()


def discord_env(fake: FakeDiscord, **extra: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        **extra,
    }


def assert_one_clear_line(stderr: str, *expected: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("gazette:")]
    assert len(lines) == 1, stderr
    for text in expected:
        assert text in lines[0], stderr


async def test_ready_line_and_clean_stop(tmp_path, fake):
    code, stderr = await run_bot(tmp_path, discord_env(fake), until="ready as")
    assert code == 0, stderr
    assert "ready as Gazette" in stderr and "in 1 servers, following 0 feeds" in stderr
    assert fake.token not in stderr
    # no DATABASE_PATH: the default, under the directory it was started from
    assert (tmp_path / "data" / "gazette.sqlite3").exists()
    assert len(fake.command_syncs) == 1

    # a second start with the same commands does not sync them again
    code, stderr = await run_bot(tmp_path, discord_env(fake), until="ready as")
    assert code == 0, stderr
    assert len(fake.command_syncs) == 1


async def test_settings_come_from_dotenv_in_the_working_directory(tmp_path, fake):
    env = discord_env(fake)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    code, stderr = await run_bot(tmp_path, {}, until="ready as")
    assert code == 0, stderr


async def test_missing_token(tmp_path):
    code, stderr = await run_bot(tmp_path, {})
    assert code != 0
    assert_one_clear_line(stderr, "DISCORD_TOKEN", ".env")


async def test_rejected_token(tmp_path, fake):
    code, stderr = await run_bot(tmp_path, discord_env(fake, DISCORD_TOKEN="wrong-token"))
    assert code != 0
    assert_one_clear_line(stderr, "rejected DISCORD_TOKEN")
    assert "wrong-token" not in stderr


async def test_unreachable_api(tmp_path, fake):
    api = f"http://127.0.0.1:{free_port()}/api/v10"
    code, stderr = await run_bot(tmp_path, discord_env(fake, DISCORD_API_BASE=api))
    assert code != 0
    assert_one_clear_line(stderr, "cannot reach Discord's API", api)


async def test_unreachable_gateway(tmp_path, fake):
    fake.refuse_gateway = True
    code, stderr = await run_bot(tmp_path, discord_env(fake))
    assert code != 0
    assert_one_clear_line(stderr, "gateway", fake.gateway_url)


async def test_unwritable_database_path(tmp_path, fake):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    env = discord_env(fake, DATABASE_PATH=str(blocker / "gazette.sqlite3"))
    code, stderr = await run_bot(tmp_path, env)
    assert code != 0
    assert_one_clear_line(stderr, "DATABASE_PATH", str(blocker))


async def test_bad_setting_is_named(tmp_path, fake):
    code, stderr = await run_bot(tmp_path, discord_env(fake, POLL_INTERVAL="often"))
    assert code != 0
    assert_one_clear_line(stderr, "POLL_INTERVAL")


def offline_env(**extra: str) -> dict[str, str]:
    """Settings that never leave 127.0.0.1, for start-ups that must stop before connecting."""
    port = free_port()
    return {
        "DISCORD_TOKEN": "fake-bot-token",
        "DISCORD_API_BASE": f"http://127.0.0.1:{port}/api/v10",
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/gateway/",
        **extra,
    }


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("DISCORD_GATEWAY_URL", "ws://[::1", "not a valid URL"),
        ("DISCORD_GATEWAY_URL", "http://127.0.0.1/gateway", "ws://"),
        ("DISCORD_GATEWAY_URL", "wss://", "not a valid URL"),
        ("DISCORD_GATEWAY_URL", "ws://127.0.0.1:70000/", "Port out of range"),
        ("DISCORD_API_BASE", "ftp://127.0.0.1/api", "https://"),
        ("DISCORD_API_BASE", "127.0.0.1/api/v10", "https://"),
        ("DISCORD_TOKEN", "two words", "stray characters"),
        ("POLL_INTERVAL", "5", "at least 10"),
        ("POLL_INTERVAL", "1" + "0" * 400, "at most"),
        ("COMMAND_GUILD_ID", "my-server", "whole number"),
        ("COMMAND_GUILD_ID", "9" * 30, "at most"),
        ("COMMENT_LIVE_DAYS", "0", "at least 1"),
        ("LOG_LEVEL", "LOUD", "logging level"),
        ("ALLOW_PRIVATE_FEEDS", "perhaps", "true or false"),
    ],
)
async def test_each_malformed_setting_is_one_clear_line(tmp_path, key, value, words):
    code, stderr = await run_bot(tmp_path, offline_env(**{key: value}))
    assert code != 0
    assert_one_clear_line(stderr, key, words)
    assert not (tmp_path / "data").exists()  # refused before anything was created


async def test_database_path_that_is_a_directory(tmp_path):
    code, stderr = await run_bot(tmp_path, offline_env(DATABASE_PATH=str(tmp_path)))
    assert code != 0
    assert_one_clear_line(stderr, "DATABASE_PATH", "is a directory")


async def test_database_path_that_is_not_a_database(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Shopping list: bread, milk, and a much longer line than a header. " * 20)
    code, stderr = await run_bot(tmp_path, offline_env(DATABASE_PATH=str(notes)))
    assert code != 0
    assert_one_clear_line(stderr, "DATABASE_PATH", "not an SQLite database")
    assert notes.read_text().startswith("Shopping list")  # left as it was


async def test_database_path_in_a_directory_nobody_may_write(tmp_path):
    # /proc takes no new files, not even from root (a chmod'ed folder would not stop root)
    code, stderr = await run_bot(tmp_path, offline_env(DATABASE_PATH="/proc/gazette.sqlite3"))
    assert code != 0
    assert_one_clear_line(stderr, "cannot write DATABASE_PATH=/proc/gazette.sqlite3")


async def test_dotenv_that_is_not_text(tmp_path):
    (tmp_path / ".env").write_bytes(b"DISCORD_TOKEN=\xff\xfe\n")
    code, stderr = await run_bot(tmp_path, {})
    assert code != 0
    assert_one_clear_line(stderr, "cannot read", ".env")
