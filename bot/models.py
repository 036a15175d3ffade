"""Plain data passed between the services, the store and the cogs (no Discord here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Entry:
    """One post as read from a feed, the REST API or an export file."""

    key: str  # identity within its feed: guid, else link, else a hash of title and date
    title: str
    link: str | None = None
    author: str | None = None
    published_at: float | None = None  # unix seconds, UTC
    updated_at: float | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    summary_html: str = ""  # the feed's excerpt (description / summary)
    content_html: str = ""  # the full body where the feed carries it
    image_url: str | None = None  # featured or first image
    comments_feed: str | None = None  # wfw:commentRss
    wp_id: int | None = None  # WordPress post id, when it can be told (guid ?p=ID, REST)
    # plain text of the content (else the summary) for the search index, made where the entry
    # is parsed, off the event loop (bot.limits.clamp_entry); None: made when it is stored
    content_text: str | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class ParsedFeed:
    title: str
    site_url: str | None
    entries: list[Entry]


@dataclass(slots=True)
class Feed:
    id: int
    url: str
    title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    poll_interval: int | None
    next_check_at: float
    last_checked_at: float | None
    last_new_post_at: float | None
    failure_count: int
    last_error: str | None
    failing_notified: bool


@dataclass(slots=True)
class FeedCheck:
    """The outcome of one check of a feed, written with the others of its poll cycle."""

    feed_id: int
    next_check_at: float
    error: str | None = None  # set when the check failed
    notify_failing: bool = False  # the failure that earns the channel its one notice
    fetched: bool = False  # a new body was read (else 304 or the same bytes)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    site_url: str | None = None


@dataclass(slots=True)
class Subscription:
    id: int
    feed_id: int
    guild_id: int
    channel_id: int
    mention_role_id: int | None
    threads: bool
    auto_archive_minutes: int
    feed_url: str = ""
    feed_title: str | None = None
    poll_interval: int | None = None  # seconds between checks it asks for; None: POLL_INTERVAL


@dataclass(slots=True)
class Post:
    """A stored archive row."""

    id: int
    feed_id: int
    key: str
    title: str
    link: str | None
    author: str | None
    published_at: float | None
    updated_at: float | None
    categories: list[str]
    tags: list[str]
    summary_html: str
    content_html: str
    image_url: str | None
    comments_feed: str | None
    wp_id: int | None


@dataclass(slots=True)
class Delivery:
    """One post owed to one subscription: the outbox row."""

    id: int
    post_id: int
    subscription_id: int
    nonce: str
    attempts: int
    state: str  # pending | sent | skipped
    last_error: str | None
    message_id: int | None
    channel_id: int
    guild_id: int
    mention_role_id: int | None
    threads: bool
    auto_archive_minutes: int
    feed_title: str | None
    started_at: float | None = None  # a forum post was requested then (maybe created)
