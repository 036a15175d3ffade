-- Topic roles (`/feed roles`): members who hold one are mentioned when a post of the
-- subscription's feed carries its topic (a category or tag, case and accents aside).
CREATE TABLE topic_roles (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    topic TEXT NOT NULL, -- as the blog writes it (the panel's label)
    topic_key TEXT NOT NULL, -- folded (bot.topics.topic_key): what posts are matched on
    role_id INTEGER NOT NULL,
    created INTEGER NOT NULL DEFAULT 1, -- 1: Gazette made the role; 0: an existing role linked
    position INTEGER NOT NULL DEFAULT 0, -- order on the panel (most used first)
    UNIQUE (subscription_id, topic_key)
);
CREATE INDEX topic_roles_role ON topic_roles(role_id);

-- The message where members take and drop a subscription's topic roles.
CREATE TABLE topic_panels (
    subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions(id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL
);
