"""The one data layer: every SQL statement of Gazette lives in this package."""

from .archive import ArchiveQueries
from .base import Database, StoreError, StoreWriteError
from .comments import CommentQueries
from .feeds import FeedQueries


class Store(CommentQueries, ArchiveQueries, FeedQueries, Database):
    """All named queries over one aiosqlite connection."""


__all__ = ["Store", "StoreError", "StoreWriteError"]
