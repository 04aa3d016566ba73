"""What the use cases need from the outside world, and the failures they turn into 503s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from casegold_contracts import Event


class Unavailable(Exception):
    """A dependency cannot take the request now; nothing was recorded. Retry later."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency}: {detail}")
        self.dependency = dependency


class Publisher(Protocol):
    """Appends case events durably (acks=all), in order, or raises Unavailable."""

    async def publish(self, events: Sequence[Event]) -> None: ...

    async def ready(self) -> bool: ...
