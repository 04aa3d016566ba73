"""Giving a connection back: a slow release never turns into an error of the request."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from casegold_intake.statements import release


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
