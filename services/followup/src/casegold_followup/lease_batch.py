"""Concurrent lease requests of one process share one statement (per set of kinds)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import asyncpg

# Rows leased by one statement at most; later requests wait for the next statement.
MAX_ROWS: Final = 200

Run = Callable[[tuple[str, ...], list[str]], Awaitable[list[list[asyncpg.Record]]]]


@dataclass
class _Request:
    agent_id: str
    limit: int
    done: asyncio.Future[list[asyncpg.Record]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class LeaseBatcher:
    """One statement in flight per set of kinds; what arrives meanwhile goes in the next one.

    Twenty agents asking at once cost one round trip and one index walk instead of twenty,
    and the rows are handed out in arrival order, best first.
    """

    def __init__(self, run: Run) -> None:
        self._run = run
        self._waiting: dict[tuple[str, ...], list[_Request]] = {}
        self._flushing: set[tuple[str, ...]] = set()

    async def lease(self, agent_id: str, kinds: Sequence[str], limit: int) -> list[asyncpg.Record]:
        """The callbacks leased to this request."""
        key = tuple(sorted(kinds))
        request = _Request(agent_id, limit)
        self._waiting.setdefault(key, []).append(request)
        if key not in self._flushing:
            self._flushing.add(key)
            asyncio.get_running_loop().create_task(self._flush(key))
        return await request.done

    async def _flush(self, key: tuple[str, ...]) -> None:
        try:
            while self._waiting.get(key):
                waiting = self._waiting[key]
                batch: list[_Request] = []
                rows = 0
                while waiting and (not batch or rows + waiting[0].limit <= MAX_ROWS):
                    request = waiting.pop(0)
                    batch.append(request)
                    rows += request.limit
                holders = [r.agent_id for r in batch for _ in range(r.limit)]
                try:
                    got = await self._run(key, holders)
                except BaseException as error:
                    for request in batch:
                        if not request.done.done():
                            request.done.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                    continue
                at = 0
                for request in batch:
                    mine = [row for slot in got[at : at + request.limit] for row in slot]
                    at += request.limit
                    if not request.done.done():
                        request.done.set_result(mine)
        finally:
            self._flushing.discard(key)
