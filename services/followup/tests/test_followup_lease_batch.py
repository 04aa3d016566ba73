"""Lease batching: concurrent requests share a statement and get rows in arrival order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from casegold_followup.lease_batch import LeaseBatcher


async def test_concurrent_requests_share_one_statement() -> None:
    calls: list[list[str]] = []
    queue = iter(range(1000))

    async def run(kinds: tuple[str, ...], holders: list[str]) -> list[list[Any]]:
        calls.append(holders)
        await asyncio.sleep(0)
        # The queue holds 4 rows: later holders get nothing.
        return [[next(queue)] if index < 4 else [] for index, _ in enumerate(holders)]

    batcher = LeaseBatcher(run)
    got = await asyncio.gather(
        batcher.lease("a", ["revisit"], 1),
        batcher.lease("b", ["revisit"], 2),
        batcher.lease("c", ["revisit"], 3),
    )
    assert calls == [["a", "b", "b", "c", "c", "c"]]
    assert list(got) == [[0], [1, 2], [3]]


async def test_a_failure_reaches_every_request_of_the_batch() -> None:
    async def run(kinds: tuple[str, ...], holders: list[str]) -> list[list[Any]]:
        raise RuntimeError("database down")

    batcher = LeaseBatcher(run)
    results = await asyncio.gather(
        batcher.lease("a", ["revisit"], 1),
        batcher.lease("b", ["revisit"], 1),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    with pytest.raises(RuntimeError):
        await batcher.lease("c", ["revisit"], 1)  # and the next request still gets a statement
