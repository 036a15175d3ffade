"""Why comments could not be shown now."""

from __future__ import annotations


class MirrorFailed(Exception):
    """Comments could not be shown now; retried later. The text is shown in `/feed list`."""


class ThreadGone(Exception):
    """The discussion's thread no longer exists."""
