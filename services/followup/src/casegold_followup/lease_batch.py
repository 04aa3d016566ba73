"""Concurrent lease requests of one process share one statement (per set of kinds)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import asyncpg

# Rows leased by one statement at most; later requests wait for the next statement.
MAX_ROWS: Final = 200
# Statements in flight at once per set of kinds. One measured best (5,700 leases/s from 20
# concurrent callers against 1,100 unbatched, PostgreSQL only): what arrives meanwhile
# shares the next statement.
IN_FLIGHT: Final = 1

Run = Callable[[tuple[str, ...], list[str]], Awaitable[list[list[asyncpg.Record]]]]


@dataclass
class _Request:
    agent_id: str
    limit: int
    done: asyncio.Future[list[asyncpg.Record]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class LeaseBatcher:
    """A few statements in flight per set of kinds; what arrives meanwhile shares the next.

    Twenty agents asking at once cost one round trip and one index walk instead of twenty,
    and the rows are handed out in arrival order, best first.
    """

    def __init__(self, run: Run, in_flight: int = IN_FLIGHT) -> None:
        self._run = run
        self._in_flight = in_flight
        self._waiting: dict[tuple[str, ...], list[_Request]] = {}
        self._flushing: dict[tuple[str, ...], int] = {}
        # The loop keeps only weak references to tasks: these keep them alive.
        self._tasks: set[asyncio.Task[None]] = set()

    async def lease(self, agent_id: str, kinds: Sequence[str], limit: int) -> list[asyncpg.Record]:
        """The callbacks leased to this request."""
        key = tuple(sorted(kinds))
        request = _Request(agent_id, limit)
        self._waiting.setdefault(key, []).append(request)
        if self._flushing.get(key, 0) < self._in_flight:
            self._flushing[key] = self._flushing.get(key, 0) + 1
            task = asyncio.get_running_loop().create_task(self._flush(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
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
            self._flushing[key] -= 1
