"""Plain data passed between the services, the store and the cogs (no Discord here)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


class _Tally:
    """A report that adds up: `add` sums each field (counts) or joins it (lists)."""

    __slots__ = ()

    def add(self, other) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


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
    hub: str | None = None  # a WebSub hub the feed advertises (<link rel="hub">), as written
    topic: str | None = None  # its rel="self" link: the topic to subscribe to, as written

    # with `watched` (bot.feeds.parse_feed): the watched known entries whose item changed,
    # every item's key, and each item's bytes hash (where the pre-scan read the items)
    changed: list[Entry] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    item_hashes: dict[str, str] = field(default_factory=dict)


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
    hub_url: str | None = None  # the WebSub hub a new body advertises (None: none)
    topic_url: str | None = None  # and its topic


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
    style: str = "full"  # how announcements look: full | compact | link (bot/render/style.py)
    template: str | None = None  # the message text with placeholders; None: the role mentions


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
    style: str = "full"  # its subscription's message style and template (bot/render/style.py)
    template: str | None = None
    has_topics: bool = False  # its subscription has topic roles (bot/topics.py)


# --------------------------------------------------------------------------- feeds and posts


@dataclass(slots=True)
class FetchResult:
    url: str  # final URL, after redirects
    status: int  # 200 or 304
    body: bytes  # b"" for 304
    etag: str | None  # for 304: the server's, else the one sent
    last_modified: str | None  # likewise
    content_type: str | None  # the Content-Type header as sent, e.g. "text/html; charset=UTF-8"
    link_header: str | None = None  # the Link header (WebSub hub and self), as sent


@dataclass(slots=True)
class Discovered:
    """The feed found from a URL a user pasted."""

    feed_url: str  # the feed's own URL, after redirects: what to store and poll
    parsed: ParsedFeed
    result: FetchResult  # the fetch of the feed itself (validators for the next poll)
    page: FetchResult | None = None  # the HTML page that led to the feed, if it was one


@dataclass(slots=True)
class SubscriptionStatus:
    """What `/feed list` shows for one subscription."""

    subscription: Subscription
    last_checked_at: float | None
    last_new_post_at: float | None
    feed_error: str | None
    failing_deliveries: int
    delivery_error: str | None
    poll_interval: int | None  # the subscription's own, seconds; None follows POLL_INTERVAL
    archived_silently: int = 0  # new posts archived unannounced, over the per-check cap
    skipped: int = 0  # posts and comments Discord refused even plainly: given up
    skip_reason: str | None = None  # the latest one's
    discussion_error: str | None = None  # the latest reason comments could not be shown
    blog_account: str | None = None  # replies to the blog: the account connected, if any
    digest: DigestSchedule | None = None  # announced as a digest (None: post by post)


@dataclass(slots=True)
class Subscribed:
    subscription: Subscription
    feed_title: str
    feed_url: str
    stored: int  # posts stored in the archive (none of them announced)
    page: FetchResult | None = None  # the site's page read to find the feed, if one was


@dataclass(slots=True)
class FeedEvent:
    """Something the followers of a feed should be told once."""

    kind: str  # "failing" | "recovered"
    feed: Feed
    error: str | None = None


@dataclass(slots=True)
class PollReport(_Tally):
    polled: int = 0
    unchanged: int = 0
    failed: int = 0
    new_posts: int = 0  # announced
    archived_silently: int = 0  # new too, beyond MAX_ANNOUNCE_PER_POLL for their feed
    events: list[FeedEvent] = field(default_factory=list)
    edits_owed: int = 0  # announcements to edit: their post changed or was removed


@dataclass(slots=True)
class BackfillProgress:
    """How far the import of a blog's history has gone (shown as it runs)."""

    source: str = "feed pages"  # or "the WordPress REST API"
    pages: int = 0
    total_pages: int | None = None
    seen: int = 0  # entries read
    stored: int = 0  # of which new to the archive
    finished: bool = False
    error: str | None = None
    limit: str | None = None  # why a quota stopped it: "stopped at 1,000 pages, the ... limit"


@dataclass(slots=True)
class ImportResult:
    feed_id: int
    read: int  # entries read from the source
    added: int  # new posts stored (the rest were already in the archive)
    seconds: float

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


# ------------------------------------------------------------------ discussions and comments


@dataclass(slots=True)
class Comment:
    """One comment as the blog shows it."""

    id: int  # the blog's comment id
    post_wp_id: int | None
    parent_id: int | None  # the blog's id of the comment this one answers
    author: str
    author_url: str | None
    avatar_url: str | None
    published_at: float  # unix seconds, UTC
    content_html: str
    link: str
    type: str = "comment"  # comment | pingback | trackback


@dataclass(slots=True)
class CommentWatch:
    """A post whose comments are read, with what reading them needs."""

    post_id: int
    wp_id: int | None  # the post's WordPress id, when known
    source: str | None  # what the last successful check read: "rest" | "feed"
    etag: str | None
    last_modified: str | None
    full_read_at: float | None  # last time the comments were read whole (not a 304)
    failure_count: int
    last_comment_at: float | None
    post_link: str | None
    comments_feed: str | None
    published_at: float | None
    site_url: str | None
    feed_url: str
    activity_at: float | None  # newest activity of its open discussions (None: none open)
    # the shortest check interval (seconds) the subscriptions discussing it ask for, and
    # whether one of them follows POLL_INTERVAL: the post is read at the shorter of the two
    interval: float | None = None
    follows_default: bool = True


@dataclass(slots=True)
class StoredComment:
    comment: Comment
    content_hash: str


@dataclass(slots=True)
class CommentCheck:
    """The outcome of checking one post's comments (see record_comment_checks).

    source set: read successfully (comments None: unchanged, a 304); error set: failed;
    neither: retired (no live discussion any more).
    """

    post_id: int
    next_check_at: float | None = None
    source: str | None = None  # "rest" | "feed"
    comments: list[StoredComment] | None = None
    wp_id: int | None = None  # the post's WordPress id, when it was looked up
    etag: str | None = None
    last_modified: str | None = None
    sooner_if_new: float | None = None  # next check instead, when new comments came
    error: str | None = None
    removed: list[int] = field(default_factory=list)  # comments the blog proved it no longer shows


@dataclass(slots=True)
class DiscussionInfo:
    id: int
    post_id: int
    subscription_id: int
    guild_id: int
    channel_id: int
    thread_id: int | None
    starter_message_id: int | None
    state: str  # open | deleted
    created_at: float
    last_activity_at: float
    mirror_due_at: float | None
    mirror_failures: int
    last_error: str | None
    auto_archive_minutes: int


@dataclass(slots=True)
class MirrorItem:
    """A comment to post (no message yet) or to edit (its text changed) in a discussion."""

    comment: Comment
    content_hash: str
    message_id: int | None  # the mirrored message, when there is one
    mirrored_hash: str | None  # None: never started
    nonce: str | None  # of a send that was started
    via_webhook: bool
    parent_author: str | None
    parent_html: str | None
    parent_link: str | None
    parent_message_id: int | None  # the parent's message in the same discussion
    started_at: float | None = None  # when its send was first begun
    removed: bool = False  # the blog no longer shows it: its message is to be removed

    @property
    def started(self) -> bool:
        """A send was begun; whether it reached Discord is unknown when message_id is None."""
        return self.mirrored_hash is not None

    @property
    def is_edit(self) -> bool:
        return self.message_id is not None


@dataclass(slots=True)
class CommentPollReport(_Tally):
    checked: int = 0
    unchanged: int = 0
    failed: int = 0
    retired: int = 0  # no longer live: not read again until a discussion wakes them
    new_comments: int = 0
    edited_comments: int = 0
    requests: int = 0  # HTTP requests made to blogs
    changed_posts: list[int] = field(default_factory=list)
    removed_comments: int = 0  # the blog no longer shows them (trash, spam, unapproved)


# ------------------------------------------------------------------ OPML import and export


@dataclass(slots=True)
class Outline:
    """One feed of an OPML subscription list."""

    url: str  # xmlUrl
    title: str = ""  # text or title
    category: str | None = None  # the text of the outline it is nested in
    site_url: str | None = None  # htmlUrl


@dataclass(slots=True)
class NewFeed:
    """A feed read for the first time, to store (validators kept from that first fetch)."""

    url: str
    title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_check_at: float
    hub_url: str | None = None  # the WebSub hub it advertises, and its topic
    topic_url: str | None = None


@dataclass(slots=True)
class BulkFollow:
    """Where one outline of an import goes, and how it went."""

    outline: Outline
    channel_id: int
    feed_id: int | None = None  # once the feed is stored
    title: str = ""  # the feed's own title once read
    error: str | None = None  # why it could not be followed


@dataclass(slots=True)
class BulkProgress:
    """How far a bulk import has gone (shown as it runs, then as its summary)."""

    total: int = 0  # outlines to follow (after duplicates in the file)
    followed: int = 0
    skipped: int = 0  # already followed in that channel
    failed: list[BulkFollow] = field(default_factory=list)
    finished: bool = False
    # history imports of the newly followed feeds, run afterwards
    history_total: int = 0
    history_done: int = 0
    history_posts: int = 0

    @property
    def done(self) -> int:
        return self.followed + self.skipped + len(self.failed)


@dataclass(slots=True)
class BlogConnection:
    """A server's WordPress account for one feed (replies back to the blog)."""

    guild_id: int
    feed_id: int
    rest_root: str
    username: str
    wp_user_id: int
    wp_user_name: str
    can_moderate: bool
    connected_by: int
    connected_at: float
    names_kept: bool = True  # the blog shows the author_name sent (else: a prefix in the text)
    app_password: str = field(default="", repr=False)  # the secret: never shown nor logged


@dataclass(slots=True)
class BlogReply:
    """What a member sent (or is sending) to the blog from an article's thread."""

    id: int
    guild_id: int
    discussion_id: int
    post_id: int
    source_key: str
    message_id: int | None
    member_id: int
    author_name: str
    content: str
    parent_comment_id: int | None
    comment_id: int | None
    state: str  # sending | held | approved | withdrawn | failed
    link: str | None
    created_at: float
    attempted_at: float
    last_error: str | None


# --------------------------------------------------------------------------- WebSub


@dataclass(slots=True)
class PushLease:
    """One WebSub subscription, wanted or being undone, as the hub knows it by its callback."""

    callback: str  # the unguessable last segment of the callback URL
    feed_id: int
    hub_url: str
    topic_url: str
    secret: str  # hub.secret: the key of every delivery's HMAC signature
    mode: str  # what we want of the hub: "subscribe" | "unsubscribe"
    pending: bool  # a request was sent; its verification of intent is awaited
    lease_expires_at: float | None  # when the hub's last verified lease ends
    due_at: float  # when to send the next request (renewal, retry)
    failures: int
    last_error: str | None


# --------------------------------------------------------------------------- announcement edits


@dataclass(slots=True)
class Revision:
    """An announced post inside the edit window, as its feed's checks compare it."""

    post_id: int
    key: str
    shown_hash: str  # title, excerpt, image and categories as announced (bot.edits.shown_hash)
    item_hash: str | None  # the feed item's bytes as last read
    in_feed: bool
    wp_id: int | None
    link: str | None
    removed: bool = False  # marked removed from the blog (restored if it shows up again)


@dataclass(slots=True)
class Revised:
    """One watched post a check found changed: its new fields, or only its item's bytes."""

    post_id: int
    entry: Entry | None  # None: the shown fields are the same (only item_hash is new)
    shown_hash: str | None
    item_hash: str | None


@dataclass(slots=True)
class OwedEdit:
    """An edit owed to one sent announcement (bot/store/edits.py)."""

    delivery_id: int
    post_id: int
    owed_at: float  # when it was (last) owed: a newer edit owed meanwhile is not forgotten
    attempts: int
    channel_id: int
    message_id: int
    thread_id: int | None  # the announcement's thread (or the discussion's), if any
    mention_role_id: int | None
    feed_title: str | None
    removed: bool  # the blog removed the post: the announcement says so
    style: str = "full"  # the style the announcement was sent in (an edit keeps it)
    template: str | None = None  # its subscription's template, as now


# --------------------------------------------------------------------------- digests


@dataclass(slots=True)
class DigestSchedule:
    """When a subscription's digest goes out (bot/digests.py computes `due_at`)."""

    schedule: str  # off | daily | weekly
    hour: int  # 0-23, in `zone`
    weekday: int  # 0 Monday .. 6 Sunday (weekly only)
    zone: str  # the server's time zone (IANA name)
    due_at: float | None  # the next digest, unix seconds; None when off
    held: int = 0  # posts found since the last digest, waiting for the next
    error: str | None = None  # why a digest waits for another try, if one does


@dataclass(slots=True)
class Digest:
    """One period's digest owed to one subscription: sent once, like a delivery."""

    id: int
    subscription_id: int
    period_end: float
    nonce: str
    attempts: int
    state: str  # pending | sent | skipped
    message_id: int | None
    started_at: float | None  # begun then (maybe on Discord already)
    channel_id: int
    guild_id: int
    threads: bool
    auto_archive_minutes: int
    feed_title: str | None
    feed_url: str
    zone: str  # the server's time zone, to say the period's date
