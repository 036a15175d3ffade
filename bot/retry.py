"""When to try again after a failure: one backoff rule for feeds, comments and deliveries."""

from __future__ import annotations

import random
import time

MAX_DOUBLINGS = 32  # far beyond any cap; keeps 2**n from overflowing a float


def retry_at(base: float, doublings: int, cap: float, retry_after: float | None = None) -> float:
    """The time to try again: `base` seconds doubled `doublings` times, at most `cap`, never
    sooner than the server's Retry-After (itself capped), with up to 20 % jitter added so
    failures that came together do not retry together."""
    delay = min(base * 2 ** min(max(doublings, 0), MAX_DOUBLINGS), cap)
    if retry_after:
        delay = max(delay, min(retry_after, cap))
    return time.time() + delay * random.uniform(1.0, 1.2)
