"""What the fake records for tests to read: requests, faults, stalls, command syncs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    """One REST request the fake received.

    Unpacks like the tuple ``(method, path, json, headers)``.
    """

    method: str
    #: Path relative to ``api_base``, without query, e.g. ``"/channels/12/messages"``.
    path: str
    #: Parsed JSON body (``payload_json`` of a multipart body), or None.
    json: Any
    headers: dict[str, str]
    query: dict[str, str]
    #: Files of a multipart body: ``{"field", "filename", "size", "content_type"}``.
    files: list[dict[str, Any]] = field(default_factory=list)
    #: Status the fake answered (0 while the request is being handled).
    status: int = 0

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.json, self.headers))


@dataclass
class Fault:
    """An injected error answer; see :meth:`FakeDiscord.fail` and :meth:`FakeDiscord.rate_limit`."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    #: Answers left; None means forever.
    remaining: int | None
    #: How many requests it answered so far.
    hits: int = 0
    #: Only requests whose JSON body this returns true for (None: every request).
    when: Callable[[Any], bool] | None = None

    def matches(self, method: str, path: str, body: Any = None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method != "*" and self.method != method:
            return False
        if self.pattern.fullmatch(path) is None:
            return False
        return self.when is None or bool(self.when(body))


@dataclass
class Stall:
    """Requests that Discord carries out but whose answer never reaches the client in time:
    the client crashes or is killed after Discord acted and before it heard back.
    See :meth:`FakeDiscord.stall`."""

    method: str
    pattern: re.Pattern[str]
    #: Set once a matching request has been carried out and its answer is being held.
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set (by the test) to let held answers go.
    release: asyncio.Event = field(default_factory=asyncio.Event)
    remaining: int = 1
    #: Matching requests let through (answered at once) before the ones held.
    skip: int = 0
    #: False: the request is held *before* Discord acts on it and, once released, answered
    #: 503 without acting: it never arrived (the client was killed as it sent it).
    carry_out: bool = True

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and self.method in ("*", method)
            and self.pattern.fullmatch(path) is not None
        )


@dataclass
class CommandSync:
    """One bulk overwrite (``PUT``) of application commands, i.e. one ``tree.sync()``."""

    #: The guild the commands were synced to, None for global commands.
    guild_id: int | None
    #: The command definitions as sent by the client.
    commands: list[dict[str, Any]]
