"""`python -m bot` runs Gazette; `python -m bot import|search|opml ...` are operator commands.

discord.py is imported (by bot.startup) only to run the bot: the operator commands stay light.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from .config import ConfigError, Settings

# never below INFO: discord.py logs every gateway payload at DEBUG and aiosqlite every SQL
# statement with its values, interactions and secrets (an application password) included
QUIET_LOGGERS = ("discord", "aiosqlite")


def main(argv: list[str]) -> int:
    if argv and argv[0] in {"import", "search", "opml"}:
        from . import cli

        return cli.main(argv)
    if argv:
        usage = "use: python -m bot [import|search|opml]"
        print(f"unknown command {argv[0]!r}; {usage}", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"gazette: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(
            max(logging.INFO, logging.getLevelName(settings.log_level))
        )
    from .startup import StartupError, run

    try:
        asyncio.run(run(settings))
    except StartupError as exc:
        print(f"gazette: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
