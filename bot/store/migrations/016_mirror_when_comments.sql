-- A discussion made from a sent announcement is due for mirroring only when its post already
-- has comments (imported, or read before it was announced). A new post has none: being due
-- at once cost three database round trips and a mirror task per announcement for nothing.
-- Comments read later make it due (CommentQueries.record_comment_checks), as before.
DROP TRIGGER discussion_from_delivery;

CREATE TRIGGER discussion_from_delivery
AFTER UPDATE OF state, thread_id ON deliveries
WHEN new.state = 'sent'
BEGIN
    INSERT INTO discussions(post_id, subscription_id, thread_id, starter_message_id,
                            created_at, last_activity_at, mirror_due_at)
    SELECT new.post_id, new.subscription_id, new.thread_id, new.message_id,
           (julianday('now') - 2440587.5) * 86400.0, (julianday('now') - 2440587.5) * 86400.0,
           CASE WHEN EXISTS (SELECT 1 FROM comments c WHERE c.post_id = new.post_id)
                THEN (julianday('now') - 2440587.5) * 86400.0 END
    FROM subscriptions s
    WHERE s.id = new.subscription_id AND (s.threads = 1 OR new.thread_id IS NOT NULL)
    ON CONFLICT(post_id, subscription_id) DO UPDATE SET
        thread_id = excluded.thread_id,
        starter_message_id = coalesce(discussions.starter_message_id, excluded.starter_message_id)
    WHERE discussions.thread_id IS NULL AND excluded.thread_id IS NOT NULL
      AND discussions.state = 'open';
END;
