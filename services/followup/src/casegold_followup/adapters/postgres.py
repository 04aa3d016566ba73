"""PostgreSQL: the pool, the consumer's writes, and the promoter that feeds the ready table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from casegold_followup.ports import Unavailable
from casegold_followup.scheduling import CaseInfo, NewCallback

# Errors that mean "the database is not there right now", as opposed to a refused statement.
DOWN: Final = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
_CASE_FIELDS: Final = frozenset(
    {
        "priority",
        "owner",
        "timezone",
        "customer",
        "resolved_at",
        "resolve_event_id",
        "ended_at",
        "ended_event_id",
    }
)


async def open_pool(dsn: str, max_size: int, *, flush_commits: bool = True) -> asyncpg.Pool:
    """A pool with short statement timeouts (the queue's transactions are all short).

    `flush_commits=False` is for leases only: a lease lost to a database crash returns its
    callback to the queue, and the holder's token then gets a 409 (see decision 0040).
    """
    # A local server offers TLS and asyncpg takes it unless told: encrypting every lease
    # on the loopback costs more CPU than the lease. A DSN that asks for sslmode keeps it.
    tls: dict[str, Any] = {} if "sslmode" in dsn else {"ssl": False}
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        reset=_keep_session,
        **tls,
        # No snapshot is held open across a request: an idle transaction would pin the xmin
        # and keep every dead queue row from being vacuumed.
        server_settings={
            "idle_in_transaction_session_timeout": "10000",
            "statement_timeout": "5000",
            "synchronous_commit": "on" if flush_commits else "off",
        },
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on every release (a round trip per request).

    The service sets no session state; asyncpg still rolls back an open transaction.
    """


@asynccontextmanager
async def connection(pool: asyncpg.Pool, timeout: float) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection; a database that is down becomes Unavailable (a 503)."""
    try:
        async with pool.acquire(timeout=timeout) as conn:
            yield conn
    except DOWN as error:
        raise Unavailable("postgres", type(error).__name__) from error


async def ping(pool: asyncpg.Pool, timeout: float) -> bool:
    """Whether the database answers."""
    try:
        async with pool.acquire(timeout=timeout) as conn:
            await conn.fetchval("SELECT 1", timeout=timeout)
        return True
    except (*DOWN, asyncpg.PostgresError):
        return False


class ScheduleSql:
    """The consumer's writes inside one open transaction (see scheduling.ScheduleWrites)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def first_seen(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """Record the event ids; returns those not applied before (dedupe on event_id)."""
        rows = await self.conn.fetch(
            """INSERT INTO followup_seen_events (event_id) SELECT unnest($1::uuid[])
               ON CONFLICT DO NOTHING RETURNING event_id""",
            list(event_ids),
        )
        return {row["event_id"] for row in rows}

    async def case(self, case_id: UUID) -> CaseInfo | None:
        row = await self.conn.fetchrow(
            """SELECT priority, owner, timezone, resolved_at, resolve_event_id, ended_at,
                      ended_event_id FROM followup_cases WHERE case_id = $1""",
            case_id,
        )
        return None if row is None else CaseInfo(**dict(row))

    async def update_case(self, case_id: UUID, **fields: object) -> None:
        unknown = set(fields) - _CASE_FIELDS
        if unknown:
            raise ValueError(f"unknown case fields {sorted(unknown)}")
        names = list(fields)
        values = [json.dumps(v) if n == "customer" else v for n, v in fields.items()]
        columns = ", ".join(["case_id", *names])
        params = ", ".join(f"${i}" for i in range(1, len(names) + 2))
        updates = ", ".join([*(f"{n} = EXCLUDED.{n}" for n in names), "updated_at = now()"])
        await self.conn.execute(
            f"""INSERT INTO followup_cases ({columns}) VALUES ({params})
                ON CONFLICT (case_id) DO UPDATE SET {updates}""",
            case_id,
            *values,
        )

    async def add(self, callback: NewCallback) -> None:
        # A cancelled revisit comes back only when what cancelled it was refused (scheduling).
        await self.conn.execute(
            """INSERT INTO followup_callbacks (callback_id, case_id, kind, promise_id,
                   source_event_id, origin_at, status, priority_rank, team, due_at, visible_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8, $9, $10)
               ON CONFLICT (callback_id) DO UPDATE SET status = 'scheduled',
                   updated_at = now()
               WHERE followup_callbacks.status = 'cancelled' AND EXCLUDED.kind = 'revisit'""",
            callback.callback_id,
            callback.case_id,
            callback.kind,
            callback.promise_id,
            callback.source_event_id,
            callback.origin_at,
            callback.priority_rank,
            callback.team,
            callback.slot.due_at,
            callback.slot.visible_at,
        )

    async def cancel_revisits(self, case_id: UUID, up_to: datetime) -> list[str]:
        rows = await self.conn.fetch(
            """UPDATE followup_callbacks c SET status = 'cancelled', updated_at = now()
               FROM followup_callbacks old
               WHERE c.callback_id = old.callback_id AND c.case_id = $1 AND c.kind = 'revisit'
                 AND c.status IN ('scheduled', 'queued') AND c.origin_at <= $2
               RETURNING c.callback_id, old.status AS was""",
            case_id,
            up_to,
        )
        return await self._unqueue(rows)

    async def cancel(self, callback: NewCallback) -> list[str]:
        # Kept before it was read as promised: the cancelled row makes the promise a no-op.
        rows = await self.conn.fetch(
            """WITH old AS (SELECT status FROM followup_callbacks WHERE callback_id = $1)
               INSERT INTO followup_callbacks (callback_id, case_id, kind, promise_id,
                   source_event_id, origin_at, status)
               VALUES ($1, $2, $3, $4, $5, $6, 'cancelled')
               ON CONFLICT (callback_id) DO UPDATE SET status = 'cancelled', updated_at = now()
               WHERE followup_callbacks.status IN ('scheduled', 'queued')
               RETURNING callback_id, (SELECT status FROM old) AS was""",
            callback.callback_id,
            callback.case_id,
            callback.kind,
            callback.promise_id,
            callback.source_event_id,
            callback.origin_at,
        )
        return await self._unqueue(rows)

    async def cancel_from(self, case_id: UUID, source_event_id: UUID) -> list[str]:
        rows = await self.conn.fetch(
            """UPDATE followup_callbacks c SET status = 'cancelled', updated_at = now()
               FROM followup_callbacks old
               WHERE c.callback_id = old.callback_id AND c.case_id = $1
                 AND c.source_event_id = $2 AND c.status IN ('scheduled', 'queued')
               RETURNING c.callback_id, old.status AS was""",
            case_id,
            source_event_id,
        )
        return await self._unqueue(rows)

    async def _unqueue(self, rows: Sequence[asyncpg.Record]) -> list[str]:
        queued = [row["callback_id"] for row in rows if row["was"] == "queued"]
        if not queued:
            return []
        removed = await self.conn.fetch(
            "DELETE FROM followup_queue WHERE callback_id = ANY($1::uuid[]) RETURNING kind",
            queued,
        )
        return [row["kind"] for row in removed]


async def promote(conn: asyncpg.Connection, now: datetime, batch: int) -> list[str]:
    """Move callbacks that became visible into the ready table; the kinds moved.

    Run inside the caller's transaction (FollowupMetrics.changing), which counts them.
    """
    rows = await conn.fetch(
        """WITH due AS (
               SELECT callback_id FROM followup_callbacks
               WHERE status = 'scheduled' AND visible_at <= $1
               ORDER BY visible_at LIMIT $2 FOR UPDATE SKIP LOCKED),
           moved AS (
               UPDATE followup_callbacks c SET status = 'queued', updated_at = now()
               FROM due WHERE c.callback_id = due.callback_id
               RETURNING c.*)
           INSERT INTO followup_queue (callback_id, case_id, kind, attempt, priority_rank,
               due_at, promise_id, team, customer)
           SELECT m.callback_id, m.case_id, m.kind, m.attempt, m.priority_rank, m.due_at,
                  m.promise_id, m.team, coalesce(k.customer, '{}'::jsonb)
           FROM moved m LEFT JOIN followup_cases k ON k.case_id = m.case_id
           ON CONFLICT (callback_id) DO NOTHING
           RETURNING kind""",
        now,
        batch,
    )
    return [row["kind"] for row in rows]


async def expire_leases(conn: asyncpg.Connection, now: datetime) -> int:
    """Return callbacks whose lease ran out to the queue (the token stays, for fencing)."""
    status: str = await conn.execute(
        """UPDATE followup_queue q SET leased_until = NULL, agent_id = NULL
           FROM (SELECT callback_id FROM followup_queue WHERE leased_until < $1
                 FOR UPDATE SKIP LOCKED) expired
           WHERE q.callback_id = expired.callback_id""",
        now,
    )
    return int(status.rsplit(" ", 1)[-1])


async def queue_counts(conn: asyncpg.Connection) -> tuple[dict[str, int], datetime | None]:
    """Callbacks in the ready table by kind, and the oldest free one's due time."""
    rows = await conn.fetch("SELECT kind, count(*) AS n FROM followup_queue GROUP BY kind")
    return {row["kind"]: row["n"] for row in rows}, await oldest_free_due(conn)


async def oldest_free_due(conn: asyncpg.Connection) -> datetime | None:
    """The due time of the oldest callback nobody holds (one probe of a partial index)."""
    value: datetime | None = await conn.fetchval(
        "SELECT min(due_at) FROM followup_queue WHERE leased_until IS NULL"
    )
    return value


async def sweep_seen(conn: asyncpg.Connection, before: datetime) -> int:
    """Forget applied event ids older than the retention (bounded per call)."""
    status: str = await conn.execute(
        """DELETE FROM followup_seen_events WHERE event_id IN (
               SELECT event_id FROM followup_seen_events WHERE seen_at < $1 LIMIT 10000)""",
        before,
    )
    return int(status.rsplit(" ", 1)[-1])


def as_json(value: Any) -> Any:
    """A jsonb column as Python (asyncpg returns text without a codec)."""
    return json.loads(value) if isinstance(value, str) else value
