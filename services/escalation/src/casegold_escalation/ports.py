"""What agents and timers need from the outside world, so tests can hand them fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
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


class CaseStore(Protocol):
    """The cases table's partitions and their changelog, written a flush at a time."""

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The stored value of a case (None: no such case)."""

    async def send(self, batch: Mapping[int, Mapping[bytes, bytes | None]]) -> dict[int, int]:
        """Put each partition's writes on its changelog; the last offset reached in each."""

    def write(self, partition: int, writes: Mapping[bytes, bytes | None], offset: int) -> None:
        """Store a partition's writes and the changelog offset they reach, atomically."""
