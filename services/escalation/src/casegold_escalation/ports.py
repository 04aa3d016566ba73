"""What agents and timers need from the outside world, so tests can hand them fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Protocol
from uuid import UUID

from casegold_escalation.processor import Message


class Sender(Protocol):
    """Sends records; waits for the broker's acknowledgement of notices (or of all)."""

    async def __call__(self, messages: Sequence[Message], wait_all: bool = False) -> None:
        """Send the messages in order."""

    async def pipelined(self, messages: Sequence[Message]) -> Awaitable[Any] | None:
        """Send in order without waiting; what completes once the notices are acknowledged."""


class ResendGuard(Protocol):
    """The notice ids a partition's earlier owners already sent (see adapters/recent.py)."""

    def loaded(self, partition: int) -> bool:
        """Whether the partition's recent notices were read."""

    def contains(self, partition: int, event_id: UUID) -> bool:
        """Whether that notice was already sent on the partition."""

    def forget(self, partitions: set[int]) -> None:
        """Drop what was read for partitions this worker no longer owns."""

    async def load_many(self, partitions: Iterable[int]) -> None:
        """Read the recent notices of every partition not read yet."""
