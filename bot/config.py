"""Settings read once from the environment (and `.env`, loaded by python-dotenv)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .limits import BACKFILL_MAX_MB, BACKFILL_MAX_PAGES, BACKFILL_MAX_POSTS

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_DATABASE_PATH = Path("data/gazette.sqlite3")


class ConfigError(Exception):
    """A setting is missing or malformed; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: str
    database_path: Path = DEFAULT_DATABASE_PATH
    poll_interval: int = 300
    log_level: str = "INFO"
    command_guild_id: int | None = None
    discord_api_base: str = DEFAULT_API_BASE
    discord_gateway_url: str = DEFAULT_GATEWAY_URL
    allow_private_feeds: bool = False
    comment_live_days: int = 14
    backfill_max_posts: int = BACKFILL_MAX_POSTS
    backfill_max_pages: int = BACKFILL_MAX_PAGES
    backfill_max_mb: int = BACKFILL_MAX_MB

    def __repr__(self) -> str:  # never print the token
        return f"Settings(database_path={self.database_path!s}, poll_interval={self.poll_interval})"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, require_token: bool = True) -> Settings:
        if env is None:
            from dotenv import find_dotenv, load_dotenv

            # the .env of the directory the bot is started from; real environment wins
            load_dotenv(find_dotenv(usecwd=True))
            env = dict(os.environ)

        def get(key: str) -> str | None:
            value = env.get(key, "").strip()
            return value or None

        token = get("DISCORD_TOKEN")
        if token is None and require_token:
            raise ConfigError(
                "DISCORD_TOKEN is not set: copy .env.example to .env and put your bot token in it"
            )
        level = (get("LOG_LEVEL") or "INFO").upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ConfigError(f"LOG_LEVEL={level!r} is not a logging level (try INFO or DEBUG)")
        return cls(
            discord_token=token or "",
            database_path=Path(get("DATABASE_PATH") or DEFAULT_DATABASE_PATH),
            poll_interval=_int(get("POLL_INTERVAL"), "POLL_INTERVAL", 300, minimum=10),
            log_level=level,
            command_guild_id=_int(get("COMMAND_GUILD_ID"), "COMMAND_GUILD_ID", None, minimum=1),
            discord_api_base=(get("DISCORD_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
            discord_gateway_url=get("DISCORD_GATEWAY_URL") or DEFAULT_GATEWAY_URL,
            allow_private_feeds=_bool(get("ALLOW_PRIVATE_FEEDS"), "ALLOW_PRIVATE_FEEDS"),
            comment_live_days=_int(get("COMMENT_LIVE_DAYS"), "COMMENT_LIVE_DAYS", 14, minimum=1),
            backfill_max_posts=_int(
                get("BACKFILL_MAX_POSTS"), "BACKFILL_MAX_POSTS", BACKFILL_MAX_POSTS, minimum=1
            ),
            backfill_max_pages=_int(
                get("BACKFILL_MAX_PAGES"), "BACKFILL_MAX_PAGES", BACKFILL_MAX_PAGES, minimum=1
            ),
            backfill_max_mb=_int(
                get("BACKFILL_MAX_MB"), "BACKFILL_MAX_MB", BACKFILL_MAX_MB, minimum=1
            ),
        )


def _int(raw: str | None, key: str, default: int | None, *, minimum: int) -> int | None:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, not {value}")
    return value


def _bool(raw: str | None, key: str) -> bool:
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{key}={raw!r} should be true or false")
