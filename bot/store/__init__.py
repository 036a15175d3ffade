"""The one data layer: every SQL statement of Gazette lives in this package."""

from .archive import ArchiveQueries
from .base import Database, StoreError, StoreWriteError
from .comments import CommentQueries
from .deliveries import DeliveryQueries
from .digests import DigestQueries
from .edits import EditQueries
from .feeds import FeedQueries
from .filters import FilterQueries
from .posts import PostQueries
from .replies import ReplyQueries
from .styles import StyleQueries
from .topics import TopicQueries
from .websub import WebSubQueries


class Store(
    FilterQueries,
    TopicQueries,
    StyleQueries,
    DigestQueries,
    WebSubQueries,
    ReplyQueries,
    EditQueries,
    CommentQueries,
    ArchiveQueries,
    DeliveryQueries,
    PostQueries,
    FeedQueries,
    Database,
):
    """All named queries over one aiosqlite connection."""


__all__ = ["Store", "StoreError", "StoreWriteError"]
