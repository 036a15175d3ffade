-- A bad item never blocks the ones behind it, and forum posts survive a crash.

-- Times Discord refused this post's payload (400), the plain version included. After a few
-- the delivery is 'skipped' (last_error says why) instead of being retried forever.
ALTER TABLE deliveries ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
-- When the delivery was first begun (recorded before any request): a pending delivery
-- with started_at set may already be on Discord (a forum post takes no nonce, and a nonce
-- dedups only for minutes), so it is looked for before being sent again.
ALTER TABLE deliveries ADD COLUMN started_at REAL;

-- The same for a mirrored comment: refusals, then skipped (message_id stays NULL; a later
-- edit of the comment on the blog tries again).
ALTER TABLE mirrored_comments ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mirrored_comments ADD COLUMN skipped_reason TEXT;
