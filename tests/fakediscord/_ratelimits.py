"""Discord's rate limits, off by default: per-route buckets and the global limit.

``fake.rate_limits = RateLimits()`` turns them on. Every bot request to a limited route then
carries Discord's ``X-RateLimit-*`` headers (limit, remaining, reset, reset-after, bucket),
which discord.py reads to wait before a bucket runs out; a request over a bucket or over
the global limit gets Discord's 429 (``retry_after``, ``X-RateLimit-Scope``, and
``X-RateLimit-Global`` for the global one), which discord.py sleeps out and retries.

Figures as Discord documents or commonly answers: 50 requests per second per bot across
routes (interaction callbacks and webhooks are exempt), and 5 per 5 s per channel for
creating a message or a thread. Windows are fixed, as Discord's buckets are.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

# (method, path) → bucket name; the channel id (the "major parameter") keys the bucket
_ROUTES = (
    ("POST", re.compile(r"/channels/(\d+)/messages"), "message-create", 5, 5.0),
    ("POST", re.compile(r"/channels/(\d+)/messages/\d+/threads"), "thread-create", 5, 5.0),
    ("POST", re.compile(r"/channels/(\d+)/threads"), "thread-create", 5, 5.0),
)
_EXEMPT = re.compile(r"/(interactions|webhooks)/.*")


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class RateLimits:
    """Per-route buckets and a global limit; see the module's docstring."""

    global_limit: int = 50
    global_period: float = 1.0
    #: 429s answered, by scope ("user" for a bucket, "global")
    hits: dict[str, int] = field(default_factory=lambda: {"user": 0, "global": 0})
    _buckets: dict[tuple[str, str], _Window] = field(default_factory=dict)
    _global: _Window = field(default_factory=lambda: _Window(0.0))

    def check(self, method: str, path: str) -> tuple[dict | None, dict[str, str]]:
        """(429 body or None, headers to send) for one request, counting it if let through."""
        if _EXEMPT.fullmatch(path):
            return None, {}
        now = time.monotonic()
        if now - self._global.started >= self.global_period:
            self._global = _Window(now)
        if self._global.used >= self.global_limit:
            wait = self._global.started + self.global_period - now
            self.hits["global"] += 1
            return _too_many(wait, is_global=True), {
                "Via": "1.1 google",  # discord.py takes a 429 without it for Cloudflare's
                "Retry-After": str(math.ceil(wait)),
                "X-RateLimit-Global": "true",
                "X-RateLimit-Scope": "global",
            }
        route = next(
            ((r, m) for r in _ROUTES if r[0] == method and (m := r[1].fullmatch(path))), None
        )
        if route is None:
            self._global.used += 1
            return None, {}
        (_, _, name, limit, period), match = route
        key = (name, match.group(1))
        window = self._buckets.get(key)
        if window is None or now - window.started >= period:
            window = self._buckets[key] = _Window(now)
        reset_after = window.started + period - now
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"{name}-bucket",
        }
        if window.used >= limit:
            self.hits["user"] += 1
            headers |= {
                "Via": "1.1 google",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Scope": "user",
                "Retry-After": str(math.ceil(reset_after)),
            }
            return _too_many(reset_after, is_global=False), headers
        window.used += 1
        self._global.used += 1
        headers["X-RateLimit-Remaining"] = str(limit - window.used)
        return None, headers


def _too_many(wait: float, *, is_global: bool) -> dict:
    return {
        "message": "You are being rate limited.",
        "retry_after": round(max(wait, 0.001), 3),
        "global": is_global,
        "code": 0,
    }
