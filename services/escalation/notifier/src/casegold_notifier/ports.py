"""What the dispatcher needs from a channel, whatever carries the notice."""

from __future__ import annotations

from typing import Protocol

from casegold_notifier.content import Document

_ERROR_MAX = 500


class DeliveryError(Exception):
    """An attempt failed; `permanent` ones are dead at once, others retried after back-off."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message[:_ERROR_MAX])
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    """Sends one rendered notice document to one recipient, or raises DeliveryError."""

    kind: str

    async def send(self, document: Document) -> None:
        """Deliver the document; return once the receiver accepted it."""
