"""The delivery log in PostgreSQL: record, claim, seal digests, and record each outcome."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from casegold_notifier.content import digest_id
from casegold_notifier.deliveries import PlannedDelivery

_ACTIVE = "('pending', 'failed', 'sending')"

_RECORD = """
INSERT INTO notification_deliveries
    (notice_id, escalation_id, repeat, recipient, channel, case_id, event_id, audience, step,
     tier, fired_at, notice, status, last_error, next_attempt_at)
SELECT n, e, r, rc, ch, c, ev, a, s, t, f, nt::jsonb, st, le, na
FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::uuid[], $7::uuid[],
            $8::text[], $9::text[], $10::smallint[], $11::timestamptz[], $12::text[],
            $13::text[], $14::text[], $15::timestamptz[])
     AS x(n, e, r, rc, ch, c, ev, a, s, t, f, nt, st, le, na)
ON CONFLICT DO NOTHING
RETURNING notice_id
"""

# Due rows, at most `per_recipient` of each recipient, locked without waiting for rows another
# notifier holds. A `sending` row whose lease lapsed was abandoned by a dead process.
_CLAIM = f"""
WITH candidates AS (
    SELECT id, row_number() OVER (PARTITION BY recipient ORDER BY next_attempt_at, id) AS rank
    FROM notification_deliveries
    WHERE status IN {_ACTIVE} AND next_attempt_at <= now() AND recipient <> ALL($3::text[])
), due AS (
    SELECT d.id FROM notification_deliveries d JOIN candidates c ON c.id = d.id
    WHERE c.rank <= $4 AND d.status IN {_ACTIVE} AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at, d.id
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE notification_deliveries d
SET status = 'sending', attempts = d.attempts + 1, claim_token = $5, updated_at = now(),
    next_attempt_at = now() + make_interval(secs => $2)
FROM due WHERE d.id = due.id
RETURNING d.id, d.notice_id, d.kind, d.recipient, d.channel, d.attempts, d.fired_at, d.notice
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this process holds until its lease lapses: send it, then record the outcome."""

    id: int
    notice_id: UUID
    kind: str
    recipient: str
    channel: str
    attempt: int
    fired_at: datetime
    notice: dict[str, Any] | None
    token: UUID


class DeliveryStore:
    """Every SQL statement of the notifier."""

    def __init__(self, pool: asyncpg.Pool, worker: str) -> None:
        self.pool = pool
        self.worker = worker

    async def record(self, planned: Sequence[PlannedDelivery]) -> set[UUID]:
        """Insert new deliveries; those already logged are left alone. Returns the inserted."""
        if not planned:
            return set()
        columns = [
            [getattr(row, name) for row in planned]
            for name in (
                "notice_id", "escalation_id", "repeat", "recipient", "channel", "case_id",
                "event_id", "audience", "step", "tier", "fired_at", "notice", "status",
                "last_error", "next_attempt_at",
            )
        ]  # fmt: skip
        rows = await self.pool.fetch(_RECORD, *columns)
        return {row["notice_id"] for row in rows}

    async def claim(
        self, *, limit: int, lease: float, busy: Sequence[str], per_recipient: int
    ) -> list[Claim]:
        """Claim up to `limit` due deliveries and open an attempt row for each."""
        token = uuid4()
        async with self.pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(_CLAIM, limit, lease, list(busy), per_recipient, token)
            if rows:
                await connection.execute(
                    """INSERT INTO notification_attempts (delivery_id, attempt, worker)
                       SELECT unnest($1::bigint[]), unnest($2::int[]), $3""",
                    [row["id"] for row in rows],
                    [row["attempts"] for row in rows],
                    self.worker,
                )
        return [
            Claim(
                id=row["id"],
                notice_id=row["notice_id"],
                kind=row["kind"],
                recipient=row["recipient"],
                channel=row["channel"],
                attempt=row["attempts"],
                fired_at=row["fired_at"],
                notice=json.loads(row["notice"]) if row["notice"] is not None else None,
                token=token,
            )
            for row in rows
        ]

    async def seal_digests(self) -> int:
        """Turn the held notices whose quiet hours ended into one pending digest per recipient."""
        recipients = await self.pool.fetch(
            """SELECT DISTINCT recipient FROM notification_deliveries
               WHERE status = 'held' AND next_attempt_at <= now()"""
        )
        sealed = 0
        for row in recipients:
            async with self.pool.acquire() as connection, connection.transaction():
                # One sealer per recipient at a time; another notifier skips it this round.
                locked = await connection.fetchval(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                    f"casegold-notifier-digest/{row['recipient']}",
                )
                if locked:
                    sealed += await self._seal(connection, row["recipient"])
        return sealed

    async def _seal(self, connection: asyncpg.Connection, recipient: str) -> int:
        members = await connection.fetch(
            """SELECT id, notice_id, channel, fired_at FROM notification_deliveries
               WHERE recipient = $1 AND status = 'held' AND next_attempt_at <= now()
               ORDER BY fired_at, id FOR UPDATE""",
            recipient,
        )
        if not members:
            return 0
        digest = digest_id(recipient, [m["notice_id"] for m in members])
        await connection.execute(
            """INSERT INTO notification_deliveries (notice_id, kind, escalation_id, recipient,
                   channel, fired_at, status, next_attempt_at)
               VALUES ($1, 'digest', $1, $2, $3, $4, 'pending', now())
               ON CONFLICT DO NOTHING""",
            digest,
            recipient,
            members[0]["channel"],
            members[0]["fired_at"],
        )
        await connection.execute(
            """UPDATE notification_deliveries
               SET status = 'digested', digest_id = $2, updated_at = now()
               WHERE id = ANY($1::bigint[])""",
            [m["id"] for m in members],
            digest,
        )
        return 1

    async def digest_members(self, digest: UUID) -> list[tuple[UUID, dict[str, Any]]]:
        """The notices a digest carries, oldest first."""
        rows = await self.pool.fetch(
            """SELECT notice_id, notice FROM notification_deliveries
               WHERE digest_id = $1 ORDER BY fired_at, id""",
            digest,
        )
        return [(row["notice_id"], json.loads(row["notice"])) for row in rows]

    async def delivered(self, claim: Claim) -> list[datetime]:
        """Mark delivered (a digest's notices too); returns the fired_at of each notice."""
        async with self.pool.acquire() as connection, connection.transaction():
            await self._finish_attempt(connection, claim, "delivered", None)
            held = await connection.fetchval(
                """UPDATE notification_deliveries
                   SET status = 'delivered', delivered_at = now(), updated_at = now()
                   WHERE id = $1 AND claim_token = $2 RETURNING id""",
                claim.id,
                claim.token,
            )
            if held is None or claim.kind != "digest":
                return [claim.fired_at] if held is not None else []
            rows = await connection.fetch(
                """UPDATE notification_deliveries
                   SET status = 'delivered', delivered_at = now(), updated_at = now()
                   WHERE digest_id = $1 AND status = 'digested' RETURNING fired_at""",
                claim.notice_id,
            )
            return [row["fired_at"] for row in rows]

    async def failed(self, claim: Claim, error: str, delay: float) -> bool:
        """Schedule the retry after `delay` seconds; False if the claim was lost meanwhile."""
        async with self.pool.acquire() as connection, connection.transaction():
            await self._finish_attempt(connection, claim, "failed", error)
            held = await connection.fetchval(
                """UPDATE notification_deliveries
                   SET status = 'failed', last_error = $3, updated_at = now(),
                       next_attempt_at = now() + make_interval(secs => $4)
                   WHERE id = $1 AND claim_token = $2 RETURNING id""",
                claim.id,
                claim.token,
                error,
                delay,
            )
            return held is not None

    async def dead(self, claim: Claim, error: str) -> bool:
        """No more attempts (a digest's notices die with it); False if the claim was lost."""
        async with self.pool.acquire() as connection, connection.transaction():
            await self._finish_attempt(connection, claim, "dead", error)
            held = await connection.fetchval(
                """UPDATE notification_deliveries
                   SET status = 'dead', last_error = $3, updated_at = now()
                   WHERE id = $1 AND claim_token = $2 RETURNING id""",
                claim.id,
                claim.token,
                error,
            )
            if held is not None and claim.kind == "digest":
                await connection.execute(
                    """UPDATE notification_deliveries
                       SET status = 'dead', last_error = $2, updated_at = now()
                       WHERE digest_id = $1 AND status = 'digested'""",
                    claim.notice_id,
                    f"digest {claim.notice_id}: {error}",
                )
            return held is not None

    async def release(self, claim: Claim) -> None:
        """Give an interrupted attempt back at once (shutdown): the next claim may send it."""
        async with self.pool.acquire() as connection, connection.transaction():
            await self._finish_attempt(connection, claim, "released", "interrupted by shutdown")
            await connection.execute(
                """UPDATE notification_deliveries
                   SET status = 'failed', next_attempt_at = now(), updated_at = now(),
                       last_error = 'interrupted by shutdown'
                   WHERE id = $1 AND claim_token = $2""",
                claim.id,
                claim.token,
            )

    async def _finish_attempt(
        self, connection: asyncpg.Connection, claim: Claim, outcome: str, error: str | None
    ) -> None:
        await connection.execute(
            """UPDATE notification_attempts SET finished_at = now(), outcome = $3, error = $4
               WHERE delivery_id = $1 AND attempt = $2""",
            claim.id,
            claim.attempt,
            outcome,
            error,
        )

    async def seconds_to_next_due(self) -> float | None:
        """Seconds until the earliest queued delivery falls due (negative: overdue)."""
        value = await self.pool.fetchval(
            """SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now())
               FROM notification_deliveries
               WHERE status IN ('pending', 'failed', 'sending', 'held')"""
        )
        return None if value is None else float(value)

    async def dead_count(self) -> int:
        """Dead rows in the log."""
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM notification_deliveries WHERE status = 'dead'"
        )
        return count

    async def ping(self) -> bool:
        """Whether PostgreSQL answers."""
        return bool(await self.pool.fetchval("SELECT true"))
