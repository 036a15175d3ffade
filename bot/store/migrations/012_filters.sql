-- Filters per subscription (issue #11, item 2): which new posts a channel announces. No row:
-- every new post is announced, as before. Checked when a post's deliveries are created, so
-- a change applies to posts found afterwards; a post filtered out is still in the archive.
CREATE TABLE subscription_filters (
    subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions(id) ON DELETE CASCADE,
    spec TEXT NOT NULL,      -- JSON lists, as bot/filters.py writes them (Filters.to_json)
    updated_at REAL NOT NULL
);
