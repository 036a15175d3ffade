-- Replies back to the blog (issue #10, item 4): a server's admin connects a WordPress blog with
-- an application password; members post their messages in an article's thread as comments.

-- One connection per server and feed: another server following the same blog never uses it.
-- app_password is the secret: selected only by the query that talks to the blog, never shown.
CREATE TABLE blog_connections (
    guild_id INTEGER NOT NULL,
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    rest_root TEXT NOT NULL,
    username TEXT NOT NULL,       -- the WordPress login
    app_password TEXT NOT NULL,
    wp_user_id INTEGER NOT NULL,
    wp_user_name TEXT NOT NULL,   -- the account's display name ("connected as")
    can_moderate INTEGER NOT NULL DEFAULT 0,  -- its comments skip moderation; it may trash any
    connected_by INTEGER NOT NULL,
    connected_at REAL NOT NULL,
    -- 0 once the blog showed a reply under another name than the author_name sent (a plugin
    -- overriding it): replies then carry "NAME (via Discord): " in their text instead
    names_kept INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (guild_id, feed_id)
) WITHOUT ROWID;

-- The server stops following the feed (its last channel of it removed): the secret goes too.
CREATE TRIGGER blog_connection_unfollowed
AFTER DELETE ON subscriptions
BEGIN
    DELETE FROM blog_connections
    WHERE guild_id = old.guild_id AND feed_id = old.feed_id
      AND NOT EXISTS (SELECT 1 FROM subscriptions s
                      WHERE s.guild_id = old.guild_id AND s.feed_id = old.feed_id);
END;

-- What members sent to the blog. A row is written before the REST request (state 'sending'),
-- so a crash or a timeout never leads to a second POST by itself: an unknown outcome stays
-- 'sending' until the comment is recognised (by id, or when it comes back through the
-- comment watcher) or the member tries again (WordPress then answers "duplicate").
CREATE TABLE blog_replies (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    discussion_id INTEGER NOT NULL REFERENCES discussions(id) ON DELETE CASCADE,
    post_id INTEGER NOT NULL,
    source_key TEXT NOT NULL UNIQUE,  -- 'message:ID' or 'interaction:ID': one comment per source
    message_id INTEGER,           -- the Discord message that shows it in the thread
    member_id INTEGER NOT NULL,
    author_name TEXT NOT NULL,    -- the author the blog shows for it
    content TEXT NOT NULL,        -- the HTML sent to the blog
    parent_comment_id INTEGER,
    comment_id INTEGER,           -- the blog's id, once known
    state TEXT NOT NULL,          -- sending | held | approved | withdrawn | failed
    link TEXT,
    created_at REAL NOT NULL,
    attempted_at REAL NOT NULL,   -- the last REST request begun
    last_error TEXT
);
CREATE INDEX blog_replies_pending ON blog_replies(discussion_id) WHERE state = 'sending';
CREATE INDEX blog_replies_member ON blog_replies(guild_id, member_id, created_at);
CREATE INDEX blog_replies_message ON blog_replies(message_id);

-- A comment shown by a member's own message (or /reply's answer): never sent or edited by the
-- mirror, whatever the blog does to it later.
ALTER TABLE mirrored_comments ADD COLUMN from_discord INTEGER NOT NULL DEFAULT 0;
