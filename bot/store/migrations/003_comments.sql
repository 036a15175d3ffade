-- The discussion of each article: a Discord thread per post per subscription, and the blog's
-- comments mirrored into it (bot/comments.py reads them, cogs/discussion.py posts them).

-- Where a site's comments are read: its REST API root, or NULL when it has none (then each
-- post's comment feed). Looked up again once `checked_at` is old (see bot/comments.py).
CREATE TABLE comment_sites (
    site_url TEXT PRIMARY KEY,
    rest_root TEXT,
    checked_at REAL NOT NULL
);

-- One row per post whose comments are read, however many channels discuss it.
CREATE TABLE comment_watches (
    post_id INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    wp_id INTEGER,            -- the WordPress id, when it had to be looked up over REST
    source TEXT,              -- 'rest' | 'feed': what the last successful check read
    etag TEXT,                -- validators of the comment feed (conditional GET)
    last_modified TEXT,
    full_read_at REAL,        -- last time the comments were read whole (not a 304)
    next_check_at REAL,       -- NULL: not followed (no live discussion)
    last_checked_at REAL,
    last_comment_at REAL,     -- when the newest comment was first seen
    failure_count INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX comment_watches_due ON comment_watches(next_check_at)
    WHERE next_check_at IS NOT NULL;

-- The blog's approved comments of a post, as last read (kept: the comment feed only shows
-- the newest 10, and replies need their parent's author and first line).
CREATE TABLE comments (
    post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    comment_id INTEGER NOT NULL,  -- the blog's id
    parent_id INTEGER,            -- the blog's id of the comment it answers
    author TEXT NOT NULL,
    author_url TEXT,
    avatar_url TEXT,
    published_at REAL NOT NULL,
    content_html TEXT NOT NULL,
    link TEXT NOT NULL,
    content_hash TEXT NOT NULL,   -- author and text: a different hash is an edit
    first_seen_at REAL NOT NULL,
    PRIMARY KEY (post_id, comment_id)
) WITHOUT ROWID;

-- A discussion: one post in one subscription's channel, held in one thread.
CREATE TABLE discussions (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    thread_id INTEGER,            -- NULL: the thread could not be opened (yet)
    starter_message_id INTEGER,   -- the announcement (or short message) the thread hangs on
    state TEXT NOT NULL DEFAULT 'open',  -- open | deleted (by a moderator; never recreated)
    created_at REAL NOT NULL,
    last_activity_at REAL NOT NULL,  -- creation, a new comment, a message in the thread
    mirror_due_at REAL,           -- comments wait to be mirrored from then on (NULL: none)
    mirror_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (post_id, subscription_id)
);
CREATE INDEX discussions_thread ON discussions(thread_id);
CREATE INDEX discussions_subscription ON discussions(subscription_id);
CREATE INDEX discussions_mirror_due ON discussions(mirror_due_at)
    WHERE mirror_due_at IS NOT NULL;

-- Which message shows which comment in which discussion. A row with no message_id is a send
-- that was started and not confirmed (a crash in between): it is looked for before resending.
CREATE TABLE mirrored_comments (
    discussion_id INTEGER NOT NULL REFERENCES discussions(id) ON DELETE CASCADE,
    comment_id INTEGER NOT NULL,
    post_id INTEGER NOT NULL,
    message_id INTEGER,
    nonce TEXT NOT NULL,
    via_webhook INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL,   -- of the comment as mirrored
    mirrored_at REAL NOT NULL,
    PRIMARY KEY (discussion_id, comment_id)
) WITHOUT ROWID;

-- An announcement that was sent becomes a discussion when its thread exists, or when the
-- subscription wants threads (the thread is then opened when comments arrive). Done here so
-- that the announcer's "sent" and the discussion cannot be separated by a crash.
CREATE TRIGGER discussion_from_delivery
AFTER UPDATE OF state, thread_id ON deliveries
WHEN new.state = 'sent'
BEGIN
    INSERT INTO discussions(post_id, subscription_id, thread_id, starter_message_id,
                            created_at, last_activity_at, mirror_due_at)
    SELECT new.post_id, new.subscription_id, new.thread_id, new.message_id,
           (julianday('now') - 2440587.5) * 86400.0, (julianday('now') - 2440587.5) * 86400.0,
           (julianday('now') - 2440587.5) * 86400.0
    FROM subscriptions s
    WHERE s.id = new.subscription_id AND (s.threads = 1 OR new.thread_id IS NOT NULL)
    ON CONFLICT(post_id, subscription_id) DO UPDATE SET
        thread_id = excluded.thread_id,
        starter_message_id = coalesce(discussions.starter_message_id, excluded.starter_message_id)
    WHERE discussions.thread_id IS NULL AND excluded.thread_id IS NOT NULL
      AND discussions.state = 'open';
END;

-- A new discussion: its post's comments are read soon.
CREATE TRIGGER discussion_watch
AFTER INSERT ON discussions
WHEN new.state = 'open'
BEGIN
    INSERT INTO comment_watches(post_id, next_check_at) VALUES (new.post_id, 0)
    ON CONFLICT(post_id) DO UPDATE SET next_check_at = 0;
END;

-- Announcements sent before this migration keep their threads as discussions.
INSERT INTO discussions(post_id, subscription_id, thread_id, starter_message_id,
                        created_at, last_activity_at)
SELECT d.post_id, d.subscription_id, d.thread_id, d.message_id,
       coalesce(d.sent_at, d.created_at), coalesce(d.sent_at, d.created_at)
FROM deliveries d
WHERE d.state = 'sent' AND d.thread_id IS NOT NULL;
