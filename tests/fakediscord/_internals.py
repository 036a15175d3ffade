"""The fake's internals: API errors, the request being handled, wire-format helpers."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakediscord._constants import DISCORD_EPOCH_MS
from tests.fakediscord._records import RecordedRequest


class _ApiError(Exception):
    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors


class _NotFound(_ApiError, LookupError):
    """A 404 on the wire; a LookupError when a test names an id the fake does not know."""


def _unknown(what: str, code: int, ident: object = None) -> _ApiError:
    error = _NotFound(404, code, f"Unknown {what}")
    if ident is not None:
        error.args = (f"Unknown {what} {ident}",)
    return error


def _missing_permissions() -> _ApiError:
    return _ApiError(403, 50013, "Missing Permissions")


def _missing_access() -> _ApiError:
    return _ApiError(403, 50001, "Missing Access")


class _FormErrors:
    """Collects Discord-style nested form errors (code 50035)."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def raise_if_any(self) -> None:
        if self.tree:
            raise _ApiError(400, 50035, "Invalid Form Body", self.tree)


@dataclass
class _Call:
    """A REST request being handled."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    files: list[dict[str, Any]]
    record: RecordedRequest

    def id(self, name: str) -> int:
        return int(self.params[name])

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


def _json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Exactly "application/json": discord.py compares the header string (no charset).
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _iso(ts: float | None = None) -> str:
    moment = datetime.datetime.fromtimestamp(ts if ts is not None else time.time(), datetime.UTC)
    return moment.isoformat()


def _walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components or ():
        yield comp
        yield from _walk_components(comp.get("components") or ())
        if isinstance(comp.get("component"), dict):
            yield from _walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from _walk_components([comp["accessory"]])


def _snowflake_time(snowflake: int) -> float:
    """When a snowflake was made (Unix seconds)."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def _snowflake_str(value: Any) -> str:
    """An id given as int, str or object with ``.id`` → wire string."""
    return str(getattr(value, "id", value))


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object without the fake's private keys (those starting with '_')."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _is_url(value: Any, *, attachment: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    schemes = ("http://", "https://") + (("attachment://",) if attachment else ())
    return value.startswith(schemes) and len(value) > len("https://")
