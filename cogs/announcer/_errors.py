"""Why a delivery waits for another try."""

from __future__ import annotations

import discord


class DeliveryFailed(Exception):
    """A send that should be retried later; the message is shown in `/feed list`.

    `settled`: Discord answered the send with a refusal (4xx), so it surely created nothing
    and the next try need not look for it.
    """

    def __init__(self, message: str, *, settled: bool = False) -> None:
        super().__init__(message)
        self.settled = settled


def send_failure(exc: discord.HTTPException, channel) -> DeliveryFailed:
    """What Discord's refusal of a send (a post's announcement, a digest) means for the next
    try: a 4xx created nothing."""
    if isinstance(exc, discord.Forbidden):
        return DeliveryFailed(f"Missing permissions in #{channel.name}: {exc.text}", settled=True)
    if isinstance(exc, discord.NotFound):
        return DeliveryFailed("the channel no longer exists", settled=True)
    return DeliveryFailed(
        f"Discord answered {exc.status}: {exc.text}", settled=400 <= exc.status < 500
    )
