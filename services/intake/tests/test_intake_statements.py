"""Statements: a slow release never fails a request; batches fold what arrives meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from casegold_intake.ports import StoreUnavailable
from casegold_intake.statements import Batches, release


class SlowPool:
    """A pool whose release finishes only after the caller's deadline (a loaded server)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.released = asyncio.Event()

    async def release(self, connection: object) -> None:
        await asyncio.sleep(self.seconds)
        self.released.set()


class ReleasedConnection:
    """asyncpg's proxy after the pool took it back: terminate() is refused."""

    def terminate(self) -> None:
        raise asyncpg.InterfaceError(
            "cannot call Connection.terminate(): connection has been released back to the pool"
        )


async def test_a_release_past_its_deadline_returns_without_raising() -> None:
    pool = SlowPool(seconds=0.05)
    await release(pool, ReleasedConnection(), timeout=0.01)
    assert not pool.released.is_set()


@pytest.mark.parametrize("seconds", [0.0, 0.001])
async def test_a_release_in_time_gives_the_connection_back(seconds: float) -> None:
    pool = SlowPool(seconds=seconds)
    await release(pool, ReleasedConnection(), timeout=1.0)
    assert pool.released.is_set()


async def test_lingering_batches_fold_what_arrives_meanwhile_into_one_statement() -> None:
    statements: list[list[int]] = []

    async def run(items: Sequence[int]) -> list[int]:
        statements.append(list(items))
        return [item * 10 for item in items]

    batches: Batches[int, int] = Batches(run, parallel=1, linger=0.02)
    first = asyncio.ensure_future(asyncio.gather(*(batches.submit(n) for n in range(5))))
    await asyncio.sleep(0.005)  # still inside the first linger: these join the same statement
    later = await asyncio.gather(*(batches.submit(n) for n in range(5, 8)))
    assert await first == [0, 10, 20, 30, 40]
    assert later == [50, 60, 70]
    assert statements == [list(range(8))]
    assert [await batches.submit(9)] == [90]  # an idle batcher still runs a lone item
    assert statements[-1] == [9]


async def test_a_failed_lingering_statement_fails_only_its_own_items() -> None:
    async def run(items: Sequence[int]) -> list[int]:
        if 0 in items:
            raise asyncpg.PostgresConnectionError("gone")
        return list(items)

    batches: Batches[int, int] = Batches(run, parallel=1, linger=0.01)
    with pytest.raises(StoreUnavailable):
        await batches.submit(0)
    assert await batches.submit(1) == 1
