-- A feed is fetched once however many channels follow it.
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT,
    site_url TEXT,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    poll_interval INTEGER, -- seconds; NULL follows POLL_INTERVAL
    next_check_at REAL NOT NULL DEFAULT 0,
    last_checked_at REAL,
    last_new_post_at REAL,
    failure_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    failing_notified INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX feeds_due ON feeds(next_check_at);

-- A subscription ties a feed to one channel of one server.
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    mention_role_id INTEGER,
    threads INTEGER NOT NULL DEFAULT 1,
    auto_archive_minutes INTEGER NOT NULL DEFAULT 10080,
    created_at REAL NOT NULL,
    UNIQUE (feed_id, channel_id)
);
CREATE INDEX subscriptions_guild ON subscriptions(guild_id);

-- Every entry ever seen, per feed: the dedup memory and the archive row.
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    entry_key TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    link TEXT,
    author TEXT,
    published_at REAL,
    updated_at REAL,
    categories TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    summary_html TEXT NOT NULL DEFAULT '',
    content_html TEXT NOT NULL DEFAULT '',
    content_text TEXT NOT NULL DEFAULT '',
    image_url TEXT,
    comments_feed TEXT,
    wp_id INTEGER,
    discovered_at REAL NOT NULL,
    UNIQUE (feed_id, entry_key)
);
CREATE INDEX posts_feed_published ON posts(feed_id, published_at);

-- The outbox: one row per post owed to a subscription, written before the send.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'pending',
    nonce TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    message_id INTEGER,
    thread_id INTEGER,
    created_at REAL NOT NULL,
    sent_at REAL,
    UNIQUE (post_id, subscription_id)
);
CREATE INDEX deliveries_pending ON deliveries(state, next_attempt_at);

-- Small bot-wide facts, such as the hash of the last synced command tree.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
