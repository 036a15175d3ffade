"""Background loops: every round of every loop goes through `paced_round`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.store import StoreWriteError

log = logging.getLogger(__name__)


async def paced_round(
    work: Callable[[], Awaitable[object]], wake: asyncio.Event | None, tick: float, what: str
) -> None:
    """One round of a background loop: the work (an exception is logged, never raised: it
    would end the tasks.loop for good), then a wait for `wake` or `tick` seconds; without
    `wake`, rounds start every `tick` seconds (a long round shortens the wait after it)."""
    started = time.monotonic()
    try:
        await work()
    except StoreWriteError as exc:  # the store logs the cause; a traceback a round is noise
        log.debug("%s stopped: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)
    if wake is None:
        await asyncio.sleep(max(0.0, tick - (time.monotonic() - started)))
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=tick)
    wake.clear()
