"""Settings from the environment: defaults, and a clear word for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings


def test_defaults_when_only_the_token_is_set():
    settings = Settings.from_env({"DISCORD_TOKEN": "t"})
    assert settings.database_path == Path("data/gazette.sqlite3")
    assert settings.poll_interval == 300
    assert settings.allow_private_feeds is False
    assert settings.command_guild_id is None
    assert settings.discord_api_base == "https://discord.com/api/v10"
    assert settings.comment_live_days == 14
    assert (settings.backfill_max_posts, settings.backfill_max_pages) == (50_000, 1_000)
    assert settings.backfill_max_mb == 500


def test_backfill_quotas_are_read():
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": "t",
            "BACKFILL_MAX_POSTS": "200",
            "BACKFILL_MAX_PAGES": "3",
            "BACKFILL_MAX_MB": "1",
        }
    )
    assert (settings.backfill_max_posts, settings.backfill_max_pages) == (200, 3)
    assert settings.backfill_max_mb == 1


def test_empty_values_mean_the_default():
    settings = Settings.from_env({"DISCORD_TOKEN": "t", "DATABASE_PATH": "", "POLL_INTERVAL": ""})
    assert settings.database_path == Path("data/gazette.sqlite3")
    assert settings.poll_interval == 300


def test_the_token_is_never_shown():
    assert "secret-token" not in repr(Settings.from_env({"DISCORD_TOKEN": "secret-token"}))


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("POLL_INTERVAL", "5", "at least 10"),
        ("POLL_INTERVAL", "soon", "whole number"),
        ("ALLOW_PRIVATE_FEEDS", "maybe", "true or false"),
        ("LOG_LEVEL", "LOUD", "logging level"),
        ("COMMAND_GUILD_ID", "abc", "whole number"),
        ("COMMAND_GUILD_ID", "9" * 20, "at most"),
        ("POLL_INTERVAL", "9" * 400, "at most"),
        ("COMMENT_LIVE_DAYS", "36500", "at most"),
        ("DISCORD_GATEWAY_URL", "ws://[::1", "not a valid URL"),
        ("DISCORD_GATEWAY_URL", "https://gateway.discord.gg/", "wss:// or ws://"),
        ("DISCORD_GATEWAY_URL", "gateway.discord.gg", "wss:// or ws://"),
        ("DISCORD_GATEWAY_URL", "wss:///path", "not a valid URL"),
        ("DISCORD_GATEWAY_URL", "wss://gate way/", "not a valid URL"),
        ("DISCORD_GATEWAY_URL", "ws://127.0.0.1:0/", "port 0"),
        ("DISCORD_API_BASE", "wss://discord.com/api", "https:// or http://"),
        ("DISCORD_API_BASE", "https://discord.com:123456/api", "Port out of range"),
        ("DISCORD_TOKEN", "token\twith a tab", "stray characters"),
        ("BACKFILL_MAX_POSTS", "lots", "whole number"),
        ("BACKFILL_MAX_PAGES", "0", "at least 1"),
        ("BACKFILL_MAX_MB", "-5", "at least 1"),
    ],
)
def test_mistakes_are_named(key, value, words):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DISCORD_TOKEN": "t", key: value})
    assert key in str(info.value) and words in str(info.value)


def test_every_setting_is_documented_in_env_example():
    example = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    keys = {
        line.split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert keys == {
        "DISCORD_TOKEN",
        "DATABASE_PATH",
        "POLL_INTERVAL",
        "LOG_LEVEL",
        "COMMAND_GUILD_ID",
        "DISCORD_API_BASE",
        "DISCORD_GATEWAY_URL",
        "ALLOW_PRIVATE_FEEDS",
        "COMMENT_LIVE_DAYS",
        "BACKFILL_MAX_POSTS",
        "BACKFILL_MAX_PAGES",
        "BACKFILL_MAX_MB",
        "PUBLIC_URL",
        "HTTP_LISTEN",
        "EDIT_WINDOW_DAYS",
    }


def test_a_stray_token_is_refused_without_being_quoted():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DISCORD_TOKEN": '"secret token"'})
    assert "secret" not in str(info.value)


def test_proxies_and_loopback_addresses_are_accepted():
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": "MTA1.Gx-y_z.abc",
            "DISCORD_API_BASE": "http://127.0.0.1:8080/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://[::1]:8081/gateway/",
            "POLL_INTERVAL": "604800",
            "COMMAND_GUILD_ID": "1577618151980400640",
        }
    )
    assert settings.discord_api_base == "http://127.0.0.1:8080/api/v10"
    assert settings.discord_gateway_url == "ws://[::1]:8081/gateway/"
    assert settings.command_guild_id == 1577618151980400640
