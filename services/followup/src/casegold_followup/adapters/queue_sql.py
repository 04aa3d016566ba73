"""PostgreSQL statements of the callback queue: lease, lock, settle, release, list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

_LEASE: Final = """
WITH picked AS (
    SELECT callback_id, row_number() OVER (ORDER BY priority_rank, due_at) AS slot
    FROM (SELECT callback_id, priority_rank, due_at FROM followup_queue
          WHERE leased_until IS NULL AND due_at {window} $1 AND kind = ANY($2::text[])
          ORDER BY priority_rank, due_at
          LIMIT $3
          FOR UPDATE SKIP LOCKED) free),
holders AS (SELECT agent, slot FROM unnest($5::text[]) WITH ORDINALITY AS h(agent, slot))
UPDATE followup_queue q
SET lease_token = gen_random_uuid(), leased_until = $4, agent_id = holders.agent,
    leases = q.leases + 1
FROM picked JOIN holders USING (slot)
WHERE q.callback_id = picked.callback_id
RETURNING picked.slot, q.callback_id, q.case_id, q.kind, q.attempt, q.priority_rank,
          q.due_at, q.promise_id, q.team, q.customer, q.lease_token, q.leased_until"""
OVERDUE: Final = _LEASE.format(window="<=")
EARLY: Final = _LEASE.format(window=">")


async def lease(
    conn: asyncpg.Connection,
    *,
    holders: Sequence[str],
    kinds: Sequence[str],
    now: datetime,
    until: datetime,
) -> list[list[asyncpg.Record]]:
    """Lease one callback per entry of `holders` (agent ids, in request order), best first.

    Overdue first, then priority, then due time; returns the rows each holder got (a list per
    entry, empty once the queue ran dry).
    """
    # Two short statements rather than one ORDER BY over "is it overdue": each reads the
    # free-rows index in its own order and stops after as many rows as there are holders.
    got: list[list[asyncpg.Record]] = [[] for _ in holders]
    rows = await conn.fetch(OVERDUE, now, list(kinds), len(holders), until, list(holders))
    for row in rows:
        got[row["slot"] - 1].append(row)
    rest = list(holders)[len(rows) :]
    if rest:
        early = await conn.fetch(EARLY, now, list(kinds), len(rest), until, rest)
        for row in early:
            got[len(rows) + row["slot"] - 1].append(row)
    return got


async def lock(conn: asyncpg.Connection, callback_id: UUID) -> asyncpg.Record | None:
    """The queued callback, locked until the transaction ends."""
    return await conn.fetchrow(
        "SELECT * FROM followup_queue WHERE callback_id = $1 FOR UPDATE", callback_id
    )


async def lock_ledger(conn: asyncpg.Connection, callback_id: UUID) -> None:
    """Lock the callback's ledger row until the transaction ends."""
    await conn.execute(
        "SELECT 1 FROM followup_callbacks WHERE callback_id = $1 FOR UPDATE", callback_id
    )


async def recorded(conn: asyncpg.Connection, token: UUID) -> asyncpg.Record | None:
    """The outcome already recorded under a lease token, if any."""
    return await conn.fetchrow("SELECT * FROM followup_outcomes WHERE lease_token = $1", token)


async def ledger(conn: asyncpg.Connection, callback_id: UUID) -> asyncpg.Record | None:
    """The callback's row in the ledger."""
    return await conn.fetchrow(
        "SELECT * FROM followup_callbacks WHERE callback_id = $1", callback_id
    )


async def case_timezone(conn: asyncpg.Connection, case_id: UUID) -> str | None:
    """The customer's zone as given at intake."""
    value: str | None = await conn.fetchval(
        "SELECT timezone FROM followup_cases WHERE case_id = $1", case_id
    )
    return value


async def settle(
    conn: asyncpg.Connection,
    *,
    row: asyncpg.Record,
    outcome: str,
    request: dict[str, Any],
    answer: dict[str, Any],
    event_ids: Sequence[UUID],
    settled: str,
    retry: tuple[datetime, datetime] | None,
    now: datetime,
) -> None:
    """Record the outcome and take the callback out of the queue, in the open transaction."""
    await conn.execute(
        """INSERT INTO followup_outcomes (lease_token, callback_id, attempt, outcome, request,
               answer, event_ids, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        row["lease_token"],
        row["callback_id"],
        row["attempt"],
        outcome,
        json.dumps(request),
        json.dumps(answer),
        list(event_ids),
        now,
    )
    await conn.execute("DELETE FROM followup_queue WHERE callback_id = $1", row["callback_id"])
    if retry is None:
        flag = outcome if settled == "flagged" else None
        await conn.execute(
            """UPDATE followup_callbacks SET status = $2, last_outcome = $3, flag = $4,
                   updated_at = now() WHERE callback_id = $1""",
            row["callback_id"],
            "flagged" if settled == "flagged" else "done",
            outcome,
            flag,
        )
    else:
        await conn.execute(
            """UPDATE followup_callbacks SET status = 'scheduled', attempt = attempt + 1,
                   last_outcome = $2, due_at = $3, visible_at = $4, updated_at = now()
               WHERE callback_id = $1""",
            row["callback_id"],
            outcome,
            retry[0],
            retry[1],
        )


async def release(conn: asyncpg.Connection, callback_id: UUID) -> None:
    """Give a held callback back to the queue (its token stays, so a replay is harmless)."""
    await conn.execute(
        "UPDATE followup_queue SET leased_until = NULL, agent_id = NULL WHERE callback_id = $1",
        callback_id,
    )


async def listing(
    conn: asyncpg.Connection,
    *,
    state: str | None,
    kind: str | None,
    flag: str | None,
    case_id: UUID | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Callbacks for the read API, each query on an index of its own."""
    if state in ("due", "leased", None) and flag is None and case_id is None:
        held = "IS NOT NULL" if state == "leased" else "IS NULL"
        return list(
            await conn.fetch(
                f"""SELECT callback_id, case_id, kind, attempt, priority_rank, due_at,
                        promise_id, team, agent_id, leased_until, NULL::text AS flag,
                        CASE WHEN leased_until IS NULL THEN 'due' ELSE 'leased' END AS status
                    FROM followup_queue WHERE leased_until {held}
                      AND ($1::text IS NULL OR kind = $1)
                    ORDER BY priority_rank, due_at LIMIT $2""",
                kind,
                limit,
            )
        )
    return list(
        await conn.fetch(
            """SELECT c.callback_id, c.case_id, c.kind, c.attempt, c.priority_rank, c.due_at,
                   c.promise_id, c.team, q.agent_id, q.leased_until, c.flag, c.status
               FROM followup_callbacks c LEFT JOIN followup_queue q USING (callback_id)
               WHERE ($1::text IS NULL OR c.kind = $1) AND ($3::text IS NULL OR c.flag = $3)
                 AND ($4::uuid IS NULL OR c.case_id = $4)
                 AND ($5::text IS NULL OR c.status = $5)
               ORDER BY c.due_at NULLS LAST LIMIT $2""",
            kind,
            limit,
            flag,
            case_id,
            _ledger_status(state),
        )
    )


def _ledger_status(state: str | None) -> str | None:
    # The API's "due" is the ledger's "queued"; other names are the same.
    return "queued" if state == "due" else state
