"""Column lists, row mappers and values that more than one query module uses."""

from __future__ import annotations

import json
import secrets

import aiosqlite

from ..limits import MAX_ERROR, clip
from ..models import Post

# A Post's columns, named as its fields
POST_COLUMNS = (
    "id, feed_id, entry_key AS key, title, link, author, published_at, updated_at, categories,"
    " tags, summary_html, content_html, image_url, comments_feed, wp_id"
)


def post_from_row(row: aiosqlite.Row) -> Post:
    fields = dict(row)
    fields["categories"] = json.loads(row["categories"])
    fields["tags"] = json.loads(row["tags"])
    return Post(**fields)


def new_nonce() -> str:
    # Discord accepts nonces of up to 25 characters; enforce_nonce dedups a resend
    return secrets.token_hex(12)


def error_text(error: str) -> str:
    """An error as stored: cut here, once, whoever reports it (its text may quote a blog)."""
    return clip(error, MAX_ERROR)
