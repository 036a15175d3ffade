-- Announcements follow the article (EDIT_WINDOW_DAYS after publication).

-- Each announced post while it may still be edited: what its announcement shows, and what the
-- feed last said of it, so that a check parses only the items whose bytes changed.
CREATE TABLE post_revisions (
    post_id INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    since REAL NOT NULL,            -- publication (else discovery): the window counts from here
    shown_hash TEXT NOT NULL,       -- title, excerpt, image and categories as announced
    item_hash TEXT,                 -- the feed item's bytes as last read (NULL: not known)
    in_feed INTEGER NOT NULL DEFAULT 1,  -- 0: it left the feed (and REST was asked, if any)
    removed_at REAL                 -- the blog removed it (REST: 404, trash, not public)
);
CREATE INDEX post_revisions_feed ON post_revisions(feed_id, since);

-- An edit owed to one announcement (its message, its thread's name), written with the post's
-- new content before any request, deleted once done or given up: a crash in between is
-- finished after restart. The content is the post's row (and post_revisions.removed_at).
CREATE TABLE announcement_edits (
    delivery_id INTEGER PRIMARY KEY REFERENCES deliveries(id) ON DELETE CASCADE,
    owed_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX announcement_edits_due ON announcement_edits(next_attempt_at);
