-- WebSub (push). A feed's hub and topic as its last read body (or Link header) advertised
-- them; NULL: it advertises none.
ALTER TABLE feeds ADD COLUMN hub_url TEXT;
ALTER TABLE feeds ADD COLUMN topic_url TEXT;

-- Subscriptions at hubs, one row per callback: the one a feed wants ('subscribe'), and those
-- being undone ('unsubscribe': the feed is no longer followed, or moved to another hub).
-- Written before each request to the hub, so a verification of intent that comes before the
-- hub's answer (or after a restart) finds what it confirms.
CREATE TABLE websub (
    callback TEXT PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    hub_url TEXT NOT NULL,
    topic_url TEXT NOT NULL,
    secret TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('subscribe', 'unsubscribe')),
    pending INTEGER NOT NULL DEFAULT 0,
    lease_expires_at REAL,
    due_at REAL NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX websub_due ON websub(due_at);
CREATE INDEX websub_feed ON websub(feed_id);
