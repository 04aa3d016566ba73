"""Follow-up metrics (SPEC §5 names), kept up to date by the code that changes the queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from casegold_contracts import REVISIT_OUTCOMES
from casegold_sla.followup import CALLBACK_KINDS


@dataclass
class QueueChange:
    """What a transaction does to the queue's size, counted when (and only if) it commits."""

    queued: list[str] = field(default_factory=list)
    unqueued: list[str] = field(default_factory=list)


class CountGate:
    """A recount of the queue and the commits that change it never overlap (in one process).

    Without it a recount could read the table before a commit and set its figure after that
    commit's own -1 was counted, losing the -1 (a queue that drained shows one due forever).
    A commit waits while a recount runs; a recount waits for the commits under way.
    """

    def __init__(self) -> None:
        self._committing = 0
        self._drained: asyncio.Event | None = None
        self._counted: asyncio.Event | None = None

    @asynccontextmanager
    async def commit(self) -> AsyncIterator[None]:
        """Around a commit and the gauge update that follows it."""
        while self._counted is not None:
            await self._counted.wait()
        self._committing += 1
        try:
            yield
        finally:
            self._committing -= 1
            if self._committing == 0 and self._drained is not None:
                self._drained.set()

    @asynccontextmanager
    async def count(self) -> AsyncIterator[None]:
        """Around a recount: reading the table and setting the gauges."""
        while self._counted is not None:
            await self._counted.wait()
        counted = self._counted = asyncio.Event()
        try:
            if self._committing:
                self._drained = asyncio.Event()
                await self._drained.wait()
            yield
        finally:
            self._counted = self._drained = None
            counted.set()


class FollowupMetrics:
    """Counters and gauges; no gauge is computed by scanning a table at scrape time."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.due = Gauge(
            "casegold_callbacks_due",
            "Callbacks in the queue (due, held or not)",
            ["kind"],
            registry=r,
        )
        self.oldest_due_age = Gauge(
            "casegold_callback_oldest_due_age_seconds",
            "How long the oldest callback nobody holds has been due",
            registry=r,
        )
        self.outcomes = Counter(
            "casegold_revisit_outcomes_total", "Outcomes recorded", ["outcome"], registry=r
        )
        self.leases = Counter(
            "casegold_callback_leases_total", "Callbacks leased", ["kind"], registry=r
        )
        self.lease_conflicts = Counter(
            "casegold_callback_stale_tokens_total",
            "Outcomes or releases refused for a stale lease token",
            ["action"],
            registry=r,
        )
        self.expired = Counter(
            "casegold_callback_leases_expired_total", "Leases that ran out", registry=r
        )
        self.events = Counter(
            "casegold_followup_events_total",
            "Case events read, by what became of them",
            ["result"],
            registry=r,
        )
        self.poison = Counter(
            "casegold_followup_poison_messages_total",
            "Messages skipped as undecodable",
            ["reason"],
            registry=r,
        )
        self.unavailable = Counter(
            "casegold_followup_unavailable_total",
            "Requests refused with 503",
            ["dependency"],
            registry=r,
        )
        self.gate = CountGate()
        # Plain copies of the gauges, for the read API.
        self.due_now: dict[str, int] = dict.fromkeys(CALLBACK_KINDS, 0)
        self.oldest_age_now = 0.0
        # Bound once: labels() takes a lock and builds a key on every call of the lease path.
        self.leased = {kind: self.leases.labels(kind) for kind in CALLBACK_KINDS}
        for kind in CALLBACK_KINDS:
            self.due.labels(kind).set(0)
        for outcome in REVISIT_OUTCOMES:
            self.outcomes.labels(outcome)

    @asynccontextmanager
    async def changing(self, conn: asyncpg.Connection) -> AsyncIterator[QueueChange]:
        """A transaction whose changes to the queue reach the gauges with its commit."""
        change = QueueChange()
        transaction = conn.transaction()
        await transaction.start()
        try:
            yield change
        except BaseException:
            # A broken connection cannot roll back; the pool discards it, and the server
            # rolls the transaction back when the session ends.
            with contextlib.suppress(asyncpg.InterfaceError, OSError):
                await transaction.rollback()
            raise
        async with self.gate.commit():
            await transaction.commit()
            self.queued(change.queued)
            self.unqueued(change.unqueued)

    def queued(self, kinds: Iterable[str]) -> None:
        """Callbacks entered the queue."""
        for kind in kinds:
            self.due_now[kind] = self.due_now.get(kind, 0) + 1
            self.due.labels(kind).inc()

    def unqueued(self, kinds: Iterable[str]) -> None:
        """Callbacks left the queue (settled or cancelled)."""
        for kind in kinds:
            self.due_now[kind] = self.due_now.get(kind, 0) - 1
            self.due.labels(kind).dec()

    def recount(self, counts: Mapping[str, int]) -> None:
        """Set the gauges from a count of the ready table (other replicas change it too)."""
        for kind in CALLBACK_KINDS:
            self.due_now[kind] = counts.get(kind, 0)
            self.due.labels(kind).set(counts.get(kind, 0))

    def oldest(self, due_at: datetime | None, now: datetime) -> None:
        """The oldest free callback's due time, as last read."""
        age = 0.0 if due_at is None else max(0.0, (now - due_at).total_seconds())
        self.oldest_age_now = age
        self.oldest_due_age.set(age)
