-- What is owed after an announcement is sent: publishing it (announcement channels) and
-- opening its thread. Set with the 'sent' state, cleared once both were tried, so a crash in
-- between is finished by the next delivery round instead of leaving it undone for good.
ALTER TABLE deliveries ADD COLUMN followups_owed INTEGER NOT NULL DEFAULT 0;
