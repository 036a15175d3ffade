-- Comments the blog no longer shows (trashed, unapproved, spam, deleted) leave Discord too.

-- When Gazette learnt the blog no longer shows the comment (NULL: shown, as last read). A
-- removed comment is never mirrored; while a discussion still shows it (a mirrored_comments
-- row), its message is owed a removal: deleted, or edited to say so. The removal is owed
-- for as long as that row exists, so a crash cannot lose it. Read again (approved again),
-- the comment is shown once more.
ALTER TABLE comments ADD COLUMN removed_at REAL;
