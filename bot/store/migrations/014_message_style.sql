-- How a subscription's announcements look (/feed style): 'full' (the embed, as before),
-- 'compact' (a small embed) or 'link' (a plain message, Discord's own preview); and an
-- optional short template for the message's text (NULL: the role mentions, as before).
ALTER TABLE subscriptions ADD COLUMN style TEXT NOT NULL DEFAULT 'full';
ALTER TABLE subscriptions ADD COLUMN template TEXT;

-- The style an announcement was sent in: its edits keep it (NULL: sent before styles, 'full').
ALTER TABLE deliveries ADD COLUMN sent_style TEXT;
