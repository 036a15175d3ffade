"""Column lists, row mappers and values that more than one query module uses."""

from __future__ import annotations

import dataclasses
import functools
import json
import secrets
from typing import TypeVar

import aiosqlite

from ..limits import MAX_ERROR, clip
from ..models import Post

# A Post's columns, named as its fields
POST_COLUMNS = (
    "id, feed_id, entry_key AS key, title, link, author, published_at, updated_at, categories,"
    " tags, summary_html, content_html, image_url, comments_feed, wp_id"
)


T = TypeVar("T")


@functools.cache
def _field_names(model: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(model))


def from_row(model: type[T], row: aiosqlite.Row, **given) -> T:
    """A `model` from the row's columns named as its fields; the fields in `given` as passed
    (converted, or named otherwise in the SQL). A field with a default may have no column."""
    columns = row.keys()
    found = {name: row[name] for name in _field_names(model) if name in columns}
    return model(**{**found, **given})


def post_from_row(row: aiosqlite.Row) -> Post:
    return from_row(
        Post, row, categories=json.loads(row["categories"]), tags=json.loads(row["tags"])
    )


def new_nonce() -> str:
    # Discord accepts nonces of up to 25 characters; enforce_nonce dedups a resend
    return secrets.token_hex(12)


def error_text(error: str) -> str:
    """An error as stored: cut here, once, whoever reports it (its text may quote a blog)."""
    return clip(error, MAX_ERROR)
