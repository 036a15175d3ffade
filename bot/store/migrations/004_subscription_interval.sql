-- The check interval belongs to each subscription: one server cannot slow the checks of a feed
-- another server follows. feeds.poll_interval is now derived (the shortest interval its
-- subscriptions ask for, NULL for POLL_INTERVAL; see FeedQueries.refresh_poll_interval).
ALTER TABLE subscriptions ADD COLUMN poll_interval INTEGER; -- seconds; NULL follows POLL_INTERVAL
UPDATE subscriptions SET poll_interval =
    (SELECT f.poll_interval FROM feeds f WHERE f.id = subscriptions.feed_id);

-- When a check was last forced ("check now"): forced checks are rate-limited per feed.
ALTER TABLE feeds ADD COLUMN forced_check_at REAL;
