"""Budgets for everything a blog can send us: one place, so every path cuts at the same size.

A blog is untrusted (any admin of any server can point Gazette at any URL); each cap below is
far above what a real WordPress serves and far below what would hurt other servers.
"""

from __future__ import annotations

# Stored fields of a post or comment, in characters (cut, never refused)
MAX_TITLE = 1_000
MAX_AUTHOR = 200
MAX_ENTRY_KEY = 2_048  # guid, link or hash: the identity of an entry within its feed
MAX_URL = 2_048
MAX_CATEGORIES = 50  # categories or tags per post
MAX_CATEGORY = 100
MAX_POST_HTML = 512 * 1024  # summary and content, each
MAX_COMMENT_HTML = 64 * 1024

# One feed's share of a poll
MAX_ANNOUNCE_PER_POLL = 5  # newer posts beyond this are archived silently (and counted)
MAX_DISCOVERY_CANDIDATES = 5  # feed URLs tried for one /feed add

# One article's comment read
COMMENT_READ_DEADLINE = 60.0  # seconds for the whole read, all pages included
COMMENT_MAX_PAGES = 20  # REST pages of 100 comments

# Whole-history import of one feed (defaults of the BACKFILL_MAX_* settings)
BACKFILL_MAX_POSTS = 50_000
BACKFILL_MAX_PAGES = 1_000
BACKFILL_MAX_MB = 500

# Reads of untrusted sites (feed checks, comment reads): a read still running after
# SLOW_READ_AFTER seconds moves to a small pool of slots for slow sites, so slow sites
# (a slowloris) queue among themselves and never take the slots of the others
SLOW_READ_AFTER = 10.0
MAX_SLOW_FEED_CHECKS = 4  # of the poller's slots
MAX_SLOW_COMMENT_READS = 2  # of the comment watcher's slots
