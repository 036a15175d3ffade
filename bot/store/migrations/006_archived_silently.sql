-- New posts a poll found beyond MAX_ANNOUNCE_PER_POLL: archived without announcement,
-- counted per subscription for `/feed list`.
ALTER TABLE subscriptions ADD COLUMN archived_silently INTEGER NOT NULL DEFAULT 0;
