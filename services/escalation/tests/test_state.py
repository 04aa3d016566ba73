"""The cases table's write cache: read-your-writes, acks only once stored, revocation (state.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from casegold_escalation import guard, metrics, state
from casegold_escalation.state import CaseWrites
from tests.support.waiting import until


def waited_for(on: str) -> float:
    """Seconds the cases agent has waited on `on`, as the worker's metrics say."""
    value = metrics.REGISTRY.get_sample_value(
        "casegold_escalation_agent_waits_seconds_total", {"agent": "cases", "on": on}
    )
    return value or 0.0


@dataclass
class Record:
    """A source record as the write cache sees it (only its partition)."""

    partition: int
    offset: int

    @property
    def message(self) -> Any:
        return SimpleNamespace(partition=self.partition, offset=self.offset)


@dataclass
class FakeStore:
    """The `CaseStore` port: a changelog whose acknowledgement the test releases."""

    stored: dict[int, dict[bytes, bytes]] = field(default_factory=dict)
    offsets: dict[int, int] = field(default_factory=dict)
    changelog: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0
    sends: int = 0  # flushes that reached the changelog (and may wait there)

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self.stored.get(partition, {}).get(key)

    async def send(self, batch: Mapping[int, Mapping[bytes, bytes | None]]) -> dict[int, int]:
        self.sends += 1
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("broker unreachable")
        for partition, writes in batch.items():
            self.changelog.extend((partition, k, v) for k, v in writes.items())
        return {p: len([c for c in self.changelog if c[0] == p]) - 1 for p in batch}

    def write(self, partition: int, writes: Mapping[bytes, bytes | None], offset: int) -> None:
        rows = self.stored.setdefault(partition, {})
        for key, value in writes.items():
            if value is None:
                rows.pop(key, None)
            else:
                rows[key] = value
        self.offsets[partition] = offset


class Acks:
    """The acks of source records, recorded."""

    def __init__(self) -> None:
        self.acked: list[Record] = []

    async def ack(self, record: Record) -> None:
        self.acked.append(record)


def make(store: FakeStore, budget: float = 30.0) -> tuple[CaseWrites, Acks, list[BaseException]]:
    crashes: list[BaseException] = []

    async def crash(error: BaseException) -> None:
        crashes.append(error)

    worker = SimpleNamespace(
        case_store=store,
        settings=SimpleNamespace(retry_budget=budget),
        app=SimpleNamespace(crash=crash),
    )
    acks = Acks()
    return CaseWrites(worker, acks.ack, store), acks, crashes


async def test_a_write_is_read_back_at_once_and_its_record_acked_only_once_stored() -> None:
    store = FakeStore(stored={3: {b"old": b"v0"}})
    writes, acks, _ = make(store)
    writes.start()
    try:
        first, second = Record(3, 10), Record(3, 11)
        await writes.put(3, b"old", b"v1", first)
        await writes.put(3, b"new", b"n1", second)
        assert writes.get(3, b"old") == b"v1" and writes.get(3, b"new") == b"n1"
        await until(lambda: store.sends == 1)  # the flush waits for the changelog's ack
        assert acks.acked == [] and store.stored[3] == {b"old": b"v0"}
        assert writes.get(3, b"old") == b"v1", "a write being flushed is read back too"
        await writes.put(3, b"old", None, Record(3, 12))  # deleted while the flush is out
        assert writes.get(3, b"old") is None
        store.release.set()
        await until(lambda: len(acks.acked) == 3)
        assert [r.offset for r in acks.acked] == [10, 11, 12]
        assert store.stored[3] == {b"new": b"n1"}
        assert store.offsets[3] == len(store.changelog) - 1
        assert store.changelog[-1] == (3, b"old", None), "a delete is a tombstone"
    finally:
        await writes.stop()


async def test_a_revoked_partition_stores_and_acks_nothing_it_had_not_flushed() -> None:
    store = FakeStore()
    writes, acks, _ = make(store)
    writes.start()
    try:
        await writes.put(1, b"a", b"1", Record(1, 5))
        await writes.put(2, b"b", b"2", Record(2, 7))
        await until(lambda: store.sends == 1)  # both in the flush awaiting the changelog
        writes.revoke({1})
        await writes.put(1, b"c", b"3", Record(1, 6))
        writes.revoke({1})  # unflushed again, and dropped
        store.release.set()
        await until(lambda: [r.offset for r in acks.acked] == [7])
        await until(lambda: not writes.flushing and not writes.dirty)  # nothing left to come
        assert [r.offset for r in acks.acked] == [7]
        assert 1 not in store.stored and store.stored[2] == {b"b": b"2"}
        assert writes.get(1, b"c") is None
    finally:
        await writes.stop()


async def test_a_failed_changelog_send_is_sent_again_and_nothing_acked_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guard, "FIRST_DELAY", 0.01)
    store = FakeStore(failures=2)
    store.release.set()
    writes, acks, crashes = make(store)
    writes.start()
    try:
        await writes.put(0, b"k", b"v", Record(0, 1))
        await until(lambda: len(acks.acked) == 1)
        assert store.changelog == [(0, b"k", b"v")] and crashes == []
    finally:
        await writes.stop()


async def test_past_the_retry_budget_the_worker_crashes_without_acking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guard, "FIRST_DELAY", 0.01)
    store = FakeStore(failures=1000)
    store.release.set()
    writes, acks, crashes = make(store, budget=0.05)
    writes.start()
    try:
        await writes.put(0, b"k", b"v", Record(0, 1))
        await until(lambda: bool(crashes))
        assert acks.acked == [] and store.stored == {}
    finally:
        await writes.stop()


async def test_the_agent_waits_when_too_many_writes_are_unflushed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(state, "MAX_DIRTY", 2)
    store = FakeStore()
    writes, acks, _ = make(store)
    waited_before = waited_for("state")
    # Not started: nothing is flushed, so a third distinct key must wait for room.
    await writes.put(0, b"a", b"1", Record(0, 1))
    await writes.put(0, b"b", b"1", Record(0, 2))
    third = asyncio.ensure_future(writes.put(0, b"c", b"1", Record(0, 3)))
    for _ in range(10):  # would have finished within a turn of the loop if there were room
        await asyncio.sleep(0)
    assert not third.done()
    writes.start()
    store.release.set()
    try:
        await asyncio.wait_for(third, 5)
        await until(lambda: len(acks.acked) == 3)
        # The wait shows on the worker's metrics: an agent held back, not short of records.
        assert waited_for("state") > waited_before
    finally:
        await writes.stop()
