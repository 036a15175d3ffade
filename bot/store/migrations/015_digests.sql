-- Digests (issue #11, item 4): a subscription may announce its posts once a day or once a
-- week, in one message, instead of post by post.

-- 'off' (post by post, as before) | 'daily' | 'weekly'; the hour (0-23) and, for weekly, the
-- weekday (0 Monday .. 6 Sunday) in the server's time zone; digest_due_at: the next digest
-- (unix seconds), computed when the schedule or the server's zone changes and after each one.
ALTER TABLE subscriptions ADD COLUMN digest TEXT NOT NULL DEFAULT 'off';
ALTER TABLE subscriptions ADD COLUMN digest_hour INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN digest_weekday INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN digest_due_at REAL;
CREATE INDEX subscriptions_digest_due ON subscriptions(digest_due_at)
    WHERE digest_due_at IS NOT NULL;

-- Per-server settings; a server without a row is in UTC.
CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    timezone TEXT NOT NULL DEFAULT 'UTC'
);

-- One digest: the posts a subscription held during one period, claimed in one transaction
-- at the period's end (period_end), then sent like a delivery (nonce, started_at before any
-- request, found again after a crash; publishing and thread owed with the send).
CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    period_end REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', -- pending | sent | skipped
    nonce TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    refusals INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    started_at REAL,
    message_id INTEGER,
    thread_id INTEGER,
    followups_owed INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX digests_pending ON digests(state, next_attempt_at);
CREATE INDEX digests_message ON digests(message_id);
CREATE INDEX digests_thread ON digests(thread_id);

-- A delivery of a digest subscription starts 'held' (instead of 'pending') and becomes
-- 'digest' when its digest claims it; held_at: when it was found, by the digest clock.
ALTER TABLE deliveries ADD COLUMN digest_id INTEGER REFERENCES digests(id) ON DELETE SET NULL;
ALTER TABLE deliveries ADD COLUMN held_at REAL;
CREATE INDEX deliveries_held ON deliveries(subscription_id, held_at) WHERE state = 'held';
CREATE INDEX deliveries_digest ON deliveries(digest_id) WHERE digest_id IS NOT NULL;
