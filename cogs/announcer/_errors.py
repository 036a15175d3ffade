"""Why a delivery waits for another try."""

from __future__ import annotations


class DeliveryFailed(Exception):
    """A send that should be retried later; the message is shown in `/feed list`.

    `settled`: Discord answered the send with a refusal (4xx), so it surely created nothing
    and the next try need not look for it.
    """

    def __init__(self, message: str, *, settled: bool = False) -> None:
        super().__init__(message)
        self.settled = settled
