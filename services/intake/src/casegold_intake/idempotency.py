"""Idempotency-Keys in PostgreSQL: one row per (client, key), each step one committed statement.

The row is the key's state (claims.py): the body digest, the event and reply, the attempt
number and a lease (`lease_until`) while an attempt publishes, `published_at` once Kafka
acknowledged. Nothing is held across a publish: no transaction, no row lock, no connection.
Claims and publish marks are batched (statements.py); every batch takes its rows' locks in
(client, key) order, so two batches never deadlock. Decision 0024.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import asyncpg

from casegold_intake.claims import KeyRow
from casegold_intake.ports import KeyRecord, StoreUnavailable
from casegold_intake.statements import Batches, Bounded, Statements

# Rows in sorted order (the caller sorts), so concurrent batches wait on each other in one order.
_INSERT: Final = """
INSERT INTO idempotency_keys
    (client_id, key, body_sha256, case_id, event_id, event, reply, attempt, lease_until)
SELECT c, k, d, ci, ei, e, r, 1, now() + make_interval(secs => $8)
FROM unnest($1::text[], $2::text[], $3::bytea[], $4::uuid[], $5::uuid[], $6::bytea[],
            $7::bytea[]) WITH ORDINALITY AS i(c, k, d, ci, ei, e, r, n)
ORDER BY n
ON CONFLICT (client_id, key) DO NOTHING
RETURNING client_id, key
"""
_MARK: Final = """
WITH target AS (
    SELECT t.client_id, t.key FROM idempotency_keys t
    JOIN unnest($1::text[], $2::text[]) AS i(c, k) ON t.client_id = i.c AND t.key = i.k
    WHERE t.published_at IS NULL
    ORDER BY t.client_id, t.key
    FOR UPDATE OF t
)
UPDATE idempotency_keys t SET published_at = now(), lease_until = NULL
FROM target
WHERE t.client_id = target.client_id AND t.key = target.key AND t.published_at IS NULL
RETURNING t.client_id, t.key
"""
_FIND: Final = """
SELECT body_sha256, attempt, published_at IS NOT NULL AS published,
       coalesce(lease_until > now(), false) AS leased, event, reply
FROM idempotency_keys WHERE client_id = $1 AND key = $2
"""
_TAKE_OVER: Final = """
UPDATE idempotency_keys
SET attempt = attempt + 1, lease_until = now() + make_interval(secs => $4)
WHERE client_id = $1 AND key = $2 AND body_sha256 = $3 AND published_at IS NULL
  AND (lease_until IS NULL OR lease_until <= now())
RETURNING attempt
"""
_RELEASE: Final = """
UPDATE idempotency_keys SET lease_until = NULL
WHERE client_id = $1 AND key = $2 AND attempt = $3 AND published_at IS NULL
"""
_SWEEP: Final = """
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))
"""
_SWEEP_BATCH: Final = 5_000
# Marks are written after the answer: waiting 20 ms for company folds a few hundred marks a
# second into a few dozen statements, each one wake-up of this process and of PostgreSQL.
MARK_LINGER: Final = 0.02

Ident = tuple[str, str]


class PostgresKeyStore:
    """The key store on an asyncpg pool; every database wait is bounded by `timeout`.

    `lease` is how long a claim is reserved for the request that made it: longer than that
    request's whole deadline plus its publish mark's bound, so neither a live request nor the
    mark it writes after answering loses the claim to a retry. `lazy_pool`: sessions with
    `synchronous_commit = off` for the marks and releases (see Statements).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        timeout: float,
        lease: float = 7.0,
        lazy_pool: asyncpg.Pool | None = None,
    ) -> None:
        self.pool = pool
        self.timeout = timeout
        self.lease = lease
        self._statements = Statements(pool, timeout, lazy_pool)
        self._inserts: Batches[KeyRecord, bool] = Batches(self._insert_batch)
        self._marks: Batches[Ident, bool] = Batches(
            self._mark_batch, parallel=1, linger=MARK_LINGER
        )

    async def insert(self, record: KeyRecord) -> bool:
        """Claim the key as attempt 1; False when a row already exists."""
        return await self._inserts.submit(record)

    async def find(self, client_id: str, key: str) -> KeyRow | None:
        """The key's row as it is now."""
        rows = await self._statements.fetch(_FIND, client_id, key)
        if not rows:
            return None
        row = rows[0]
        return KeyRow(
            body_sha256=bytes(row["body_sha256"]),
            attempt=row["attempt"],
            published=row["published"],
            leased=row["leased"],
            event=None if row["event"] is None else bytes(row["event"]),
            reply=None if row["reply"] is None else bytes(row["reply"]),
        )

    async def take_over(self, client_id: str, key: str, digest: bytes) -> int | None:
        """Lease a claim whose lease ended; the new attempt number, or None if another won."""
        rows = await self._statements.fetch(_TAKE_OVER, client_id, key, digest, self.lease)
        return int(rows[0]["attempt"]) if rows else None

    async def mark_published(self, client_id: str, key: str) -> bool:
        """Record the publish; True for the first mark of the key."""
        return await self._marks.submit((client_id, key))

    async def release(self, client_id: str, key: str, attempt: int) -> None:
        """End the attempt's lease early, so a retry need not wait for it to run out."""
        await self._statements.fetch(_RELEASE, client_id, key, attempt, flush=False)

    async def _insert_batch(self, records: Sequence[KeyRecord]) -> list[bool]:
        unique: dict[Ident, KeyRecord] = {}
        for record in records:
            unique.setdefault((record.client_id, record.key), record)
        ordered = [unique[ident] for ident in sorted(unique)]
        columns = [
            [r.client_id for r in ordered],
            [r.key for r in ordered],
            [r.body_sha256 for r in ordered],
            [r.case_id for r in ordered],
            [r.event_id for r in ordered],
            [r.event for r in ordered],
            [r.reply for r in ordered],
        ]
        rows = await self._statements.fetch(_INSERT, *columns, self.lease)
        inserted = {(row["client_id"], row["key"]) for row in rows}
        # A key twice in one batch: the first request claimed it, the second finds its row.
        return [
            unique[(r.client_id, r.key)] is r and (r.client_id, r.key) in inserted for r in records
        ]

    async def _mark_batch(self, idents: Sequence[Ident]) -> list[bool]:
        clients = [client for client, _ in idents]
        keys = [key for _, key in idents]
        # A mark lost to a database crash costs a re-publish of the same event: no WAL flush.
        rows = await self._statements.fetch(_MARK, clients, keys, flush=False)
        first = {(row["client_id"], row["key"]) for row in rows}
        results = []
        for ident in idents:
            results.append(ident in first)
            first.discard(ident)
        return results

    async def close(self) -> None:
        """Let the statements still running finish before the pool closes."""
        await self._inserts.close()
        await self._marks.close()

    async def ready(self) -> bool:
        """Whether PostgreSQL answers a trivial query in time."""
        try:
            async with Bounded(self.timeout):
                return bool(await self.pool.fetchval("SELECT 1"))
        except (StoreUnavailable, asyncpg.PostgresError):
            return False

    async def sweep(self, retention_seconds: float) -> int:
        """Delete keys older than the retention, in small batches; returns how many."""
        total = 0
        while True:
            status = await self.pool.execute(_SWEEP, retention_seconds, _SWEEP_BATCH)
            deleted = int(status.split()[-1])
            total += deleted
            if deleted < _SWEEP_BATCH:
                return total
