"""Settings read once from the environment (and `.env`, loaded by python-dotenv)."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yarl

from .limits import BACKFILL_MAX_MB, BACKFILL_MAX_PAGES, BACKFILL_MAX_POSTS

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_DATABASE_PATH = Path("data/gazette.sqlite3")
# behind a reverse proxy on the same machine; "0.0.0.0:8080" to open the port itself
DEFAULT_HTTP_LISTEN = "127.0.0.1:8080"


MAX_POLL_INTERVAL = 7 * 86400
MAX_COMMENT_LIVE_DAYS = 3650
MAX_EDIT_WINDOW_DAYS = 365
# what Discord's tokens are made of (base64url pieces joined by dots), with some room
_PRINTABLE_TOKEN = re.compile(r"[A-Za-z0-9._\-+/=]+")


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
    public_url: str | None = None  # where hubs reach the listener (WebSub); None: no listener
    http_listen: str = DEFAULT_HTTP_LISTEN  # host:port the listener binds
    edit_window_days: int = 7

    def __post_init__(self) -> None:
        """Refuse what would only fail later, deep inside a library, with a traceback."""
        if self.discord_token and not _PRINTABLE_TOKEN.fullmatch(self.discord_token):
            # never quote the token itself
            raise ConfigError(
                "DISCORD_TOKEN contains spaces, quotes or other stray characters: "
                "put the bare token after DISCORD_TOKEN="
            )
        _check_url("DISCORD_API_BASE", self.discord_api_base, ("https", "http"))
        _check_url("DISCORD_GATEWAY_URL", self.discord_gateway_url, ("wss", "ws"))
        _at_most("POLL_INTERVAL", self.poll_interval, MAX_POLL_INTERVAL, "a week")
        _at_most("COMMENT_LIVE_DAYS", self.comment_live_days, MAX_COMMENT_LIVE_DAYS, "ten years")
        _at_most("EDIT_WINDOW_DAYS", self.edit_window_days, MAX_EDIT_WINDOW_DAYS, "a year")
        if self.command_guild_id is not None:
            _at_most("COMMAND_GUILD_ID", self.command_guild_id, 2**63 - 1, "a Discord id")
        if self.public_url is not None:
            _check_url("PUBLIC_URL", self.public_url, ("https", "http"))
            url = yarl.URL(self.public_url)
            if url.query_string or url.fragment:
                raise ConfigError(
                    f"PUBLIC_URL={self.public_url!r} must not have a query or a fragment: "
                    "use the bare base address, e.g. https://gazette.example.org"
                )
        try:
            parse_listen(self.http_listen)
        except ValueError as exc:
            raise ConfigError(f"HTTP_LISTEN={self.http_listen!r}: {exc}") from None

    def __repr__(self) -> str:  # never print the token
        return f"Settings(database_path={self.database_path!s}, poll_interval={self.poll_interval})"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, require_token: bool = True) -> Settings:
        if env is None:
            from dotenv import find_dotenv, load_dotenv

            # the .env of the directory the bot is started from; real environment wins
            dotenv = find_dotenv(usecwd=True)
            try:
                load_dotenv(dotenv)
            except (OSError, ValueError) as exc:  # unreadable, or not UTF-8 text
                raise ConfigError(f"cannot read {dotenv}: {exc}") from None
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
            poll_interval=_env_int(get("POLL_INTERVAL"), "POLL_INTERVAL", 300, minimum=10),
            log_level=level,
            command_guild_id=_env_int(get("COMMAND_GUILD_ID"), "COMMAND_GUILD_ID", None, minimum=1),
            discord_api_base=(get("DISCORD_API_BASE") or DEFAULT_API_BASE).rstrip("/"),
            discord_gateway_url=get("DISCORD_GATEWAY_URL") or DEFAULT_GATEWAY_URL,
            allow_private_feeds=_bool(get("ALLOW_PRIVATE_FEEDS"), "ALLOW_PRIVATE_FEEDS"),
            comment_live_days=_env_int(
                get("COMMENT_LIVE_DAYS"), "COMMENT_LIVE_DAYS", 14, minimum=1
            ),
            backfill_max_posts=_env_int(
                get("BACKFILL_MAX_POSTS"), "BACKFILL_MAX_POSTS", BACKFILL_MAX_POSTS, minimum=1
            ),
            backfill_max_pages=_env_int(
                get("BACKFILL_MAX_PAGES"), "BACKFILL_MAX_PAGES", BACKFILL_MAX_PAGES, minimum=1
            ),
            backfill_max_mb=_env_int(
                get("BACKFILL_MAX_MB"), "BACKFILL_MAX_MB", BACKFILL_MAX_MB, minimum=1
            ),
            public_url=(get("PUBLIC_URL") or "").rstrip("/") or None,
            http_listen=get("HTTP_LISTEN") or DEFAULT_HTTP_LISTEN,
            edit_window_days=_env_int(get("EDIT_WINDOW_DAYS"), "EDIT_WINDOW_DAYS", 7, minimum=0),
        )


def _env_int(raw: str | None, key: str, default: int | None, *, minimum: int) -> int | None:
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


def _check_url(key: str, value: str, schemes: tuple[str, ...]) -> None:
    """An absolute URL with one of `schemes`, a host, and nothing a client would choke on."""
    example = f"{schemes[0]}://host/path"
    try:
        url = yarl.URL(value)
        port = url.explicit_port  # yarl checks the range when it is read
    except ValueError as exc:
        raise ConfigError(f"{key}={value!r} is not a valid URL ({exc}); use {example}") from None
    if url.scheme not in schemes:
        raise ConfigError(
            f"{key}={value!r} must start with {' or '.join(s + '://' for s in schemes)}"
        )
    if not url.host or any(c.isspace() or not c.isprintable() for c in value):
        raise ConfigError(f"{key}={value!r} is not a valid URL; use {example}")
    if port == 0:
        raise ConfigError(f"{key}={value!r}: port 0 cannot be connected to")


def parse_listen(value: str) -> tuple[str, int]:
    """HTTP_LISTEN's host and port ("127.0.0.1:8080", "[::1]:8080", ":8080" for every
    address); ValueError with the reason."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("expected host:port, e.g. 127.0.0.1:8080")
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} is out of range (1-65535)")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if any(c.isspace() or c in "/[]" for c in host):
        raise ValueError(f"{host!r} is not a host name or address")
    return host or "0.0.0.0", number  # noqa: S104 - ":8080" asks for every address


def _at_most(key: str, value: int, maximum: int, meaning: str) -> None:
    if value > maximum:
        raise ConfigError(f"{key} must be at most {maximum} ({meaning}), not {value}")
