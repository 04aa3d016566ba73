"""The queue use case: lease callbacks, record outcomes as case events, release, list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from casegold_contracts import (
    Actor,
    CaseClosed,
    CaseReopened,
    Event,
    NoteAdded,
    PromiseKept,
    RevisitOutcomeRecorded,
    derived_id,
    new_event,
)
from casegold_followup.adapters import queue_sql
from casegold_followup.adapters.postgres import as_json, connection
from casegold_followup.lease_batch import LeaseBatcher
from casegold_followup.metrics import FollowupMetrics
from casegold_followup.ports import Publisher
from casegold_platform.clock import Clock
from casegold_sla.followup import CallbackKind, Effect, Outcome, OutcomeDecision, decide_outcome
from casegold_sla.instants import from_us, to_us
from casegold_sla.policy import FollowUpSettings


class StaleLease(Exception):
    """The token is not the callback's current lease (409): someone else holds it, or it ended."""


class UnknownCallback(Exception):
    """No such callback (404)."""


@dataclass(frozen=True, slots=True)
class OutcomeInput:
    """An outcome as the revisit agent reports it."""

    token: UUID
    outcome: Outcome
    score: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "score": self.score, "reason": self.reason}


class CallbackQueue:
    """Leases, outcomes and releases; every transaction is short and holds one row at most."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        lease_pool: asyncpg.Pool,
        publisher: Publisher,
        follow_up: FollowUpSettings,
        clock: Clock,
        metrics: FollowupMetrics,
        db_timeout: float,
    ) -> None:
        self.pool = pool
        self.lease_pool = lease_pool
        self.publisher = publisher
        self.follow_up = follow_up
        self.clock = clock
        self.metrics = metrics
        self.db_timeout = db_timeout
        self._batcher = LeaseBatcher(self._lease_rows)

    async def lease(
        self, agent_id: str, kinds: Sequence[CallbackKind], limit: int
    ) -> list[asyncpg.Record]:
        """Lease up to `limit` callbacks to `agent_id`, each with its own token."""
        rows = await self._batcher.lease(agent_id, kinds, limit)
        for row in rows:
            self.metrics.leased[row["kind"]].inc()
        return rows

    async def _lease_rows(
        self, kinds: tuple[str, ...], holders: list[str]
    ) -> list[list[asyncpg.Record]]:
        now = self.clock()
        until = from_us(to_us(now) + self.follow_up.callback_lease)
        # No explicit transaction: each lease statement is atomic on its own, and BEGIN and
        # COMMIT would be two more round trips per lease.
        async with connection(self.lease_pool, self.db_timeout) as conn:
            return await queue_sql.lease(conn, holders=holders, kinds=kinds, now=now, until=until)

    async def record(self, callback_id: UUID, given: OutcomeInput) -> dict[str, Any]:
        """Record an outcome once; the same token again replays the first answer."""
        pool, metrics = self.pool, self.metrics
        async with connection(pool, self.db_timeout) as conn, metrics.changing(conn) as change:
            # The ledger row first, then the queue row: the consumer cancelling this callback
            # takes them in the same order, so it waits for this outcome instead of deadlocking.
            await queue_sql.lock_ledger(conn, callback_id)
            row = await queue_sql.lock(conn, callback_id)
            if row is None or row["lease_token"] != given.token:
                return await self._not_held(conn, callback_id, given, "outcome")
            now = self.clock()
            timezone = await queue_sql.case_timezone(conn, row["case_id"])
            decision = decide_outcome(
                self.follow_up,
                kind=row["kind"],
                outcome=given.outcome,
                attempt=row["attempt"],
                at=now,
                timezone=timezone,
            )
            events = self._events(row, given, decision, now)
            answer = _answer(row, given, decision, events)
            # Published while the row is locked and before the commit: a 503 here leaves no
            # record, and the retry (same token) re-makes the same event ids.
            await self.publisher.publish(events)
            retry = (
                None
                if decision.retry is None
                else (decision.retry.due_at, decision.retry.visible_at)
            )
            await queue_sql.settle(
                conn,
                row=row,
                outcome=given.outcome,
                request=given.as_dict(),
                answer=answer,
                event_ids=[e.event_id for e in events],
                settled=decision.settled,
                retry=retry,
                now=now,
            )
            change.unqueued.append(row["kind"])
        self.metrics.outcomes.labels(given.outcome).inc()
        return answer

    async def release(self, callback_id: UUID, token: UUID) -> None:
        """Give a held callback back to the queue."""
        async with connection(self.pool, self.db_timeout) as conn, conn.transaction():
            row = await queue_sql.lock(conn, callback_id)
            if row is None or row["lease_token"] != token:
                await self._not_held(conn, callback_id, None, "release")
                return
            await queue_sql.release(conn, callback_id)

    async def _not_held(
        self, conn: asyncpg.Connection, callback_id: UUID, given: OutcomeInput | None, action: str
    ) -> dict[str, Any]:
        if given is not None:
            done = await queue_sql.recorded(conn, given.token)
            if done is not None and done["callback_id"] == callback_id:
                if as_json(done["request"]) != given.as_dict():
                    raise StaleLease("another outcome was already recorded under this lease")
                answer: dict[str, Any] = as_json(done["answer"])
                return answer
        ledger = await queue_sql.ledger(conn, callback_id)
        if ledger is None:
            raise UnknownCallback(f"no callback {callback_id}")
        if ledger["status"] == "cancelled":
            raise StaleLease("the callback was cancelled (the case was closed or reopened)")
        self.metrics.lease_conflicts.labels(action).inc()
        raise StaleLease("this lease token is not the callback's current lease")

    def _events(
        self, row: asyncpg.Record, given: OutcomeInput, decision: OutcomeDecision, now: datetime
    ) -> list[Event]:
        actor = Actor(kind="revisit_agent", id=row["agent_id"] or "revisit-agent")
        case_id: UUID = row["case_id"]
        made: list[Event] = []
        for effect in decision.effects:
            event_id = derived_id(
                "followup-outcome", str(row["callback_id"]), str(row["attempt"]), effect
            )
            model, payload = self._payload(effect, row, given, decision)
            made.append(new_event(model, case_id, payload, actor, now, now, event_id=event_id))
        return made

    @staticmethod
    def _payload(
        effect: Effect, row: asyncpg.Record, given: OutcomeInput, decision: OutcomeDecision
    ) -> tuple[type[Event], dict[str, Any]]:
        if effect == "record_outcome":
            return RevisitOutcomeRecorded, {
                "callback_id": row["callback_id"],
                "outcome": given.outcome,
                "score": given.score,
                "reason": given.reason,
                "attempt": row["attempt"],
            }
        if effect == "close_case":
            return CaseClosed, {"outcome": decision.close_outcome}
        if effect == "reopen_case":
            return CaseReopened, {"reason": given.reason or "revisit: customer unsatisfied"}
        if effect == "keep_promise":
            return PromiseKept, {"promise_id": row["promise_id"]}
        detail = f": {given.reason}" if given.reason else ""
        text = f"promised callback, attempt {row['attempt']}: {given.outcome}{detail}"
        return NoteAdded, {"text": text}


def _answer(
    row: asyncpg.Record, given: OutcomeInput, decision: OutcomeDecision, events: list[Event]
) -> dict[str, Any]:
    retry = decision.retry
    return {
        "callback_id": str(row["callback_id"]),
        "case_id": str(row["case_id"]),
        "outcome": given.outcome,
        "attempt": row["attempt"],
        "settled": decision.settled,
        "next_attempt_at": None if retry is None else retry.due_at.isoformat(),
        "events": [{"event_id": str(e.event_id), "type": e.type} for e in events],
    }
