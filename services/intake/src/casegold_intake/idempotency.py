"""Idempotency-Keys in PostgreSQL: one row per (client, key), held by a row lock per request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import asyncpg
import structlog

from casegold_intake.key_window import INSERT, Bounded, Windows, release
from casegold_intake.ports import Claim, KeyRecord, StoreUnavailable

log = structlog.get_logger("casegold_intake")

# Waits for a concurrent holder of the same key to commit or roll back.
_LOCK: Final = """
SELECT body_sha256, event, reply, published_at IS NOT NULL AS published
FROM idempotency_keys WHERE client_id = $1 AND key = $2
FOR UPDATE
"""
_PUBLISHED: Final = (
    "UPDATE idempotency_keys SET published_at = now() WHERE client_id = $1 AND key = $2"
)
_SWEEP: Final = """
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))
"""
_SWEEP_BATCH: Final = 5_000


class _Held:
    """A key held by this request's transaction."""

    def __init__(self, store: PostgresKeyStore, connection: Any, record: KeyRecord, claim: Claim):
        self._store = store
        self._connection = connection
        self._record = record
        self.claim = claim

    async def mark_published(self) -> None:
        if self.claim.fresh:
            return  # inserted with published_at; it commits only now, after the publish
        async with Bounded(self._store.timeout):
            await self._connection.execute(_PUBLISHED, self._record.client_id, self._record.key)


class PostgresKeyStore:
    """The key store on an asyncpg pool; every database wait is bounded by `timeout`.

    A new key goes into the shared window transaction (key_window.py); a known one (replay,
    conflict, or a concurrent duplicate) gets a transaction of its own that locks its row.
    """

    def __init__(
        self, pool: asyncpg.Pool, timeout: float, window: float = 0.01, capacity: int = 64
    ) -> None:
        self.pool = pool
        self.timeout = timeout
        self.windows = Windows(pool, timeout, window, capacity)

    @asynccontextmanager
    async def hold(self, record: KeyRecord) -> AsyncIterator[_Held]:
        """Insert the key's row or lock the existing one, for the duration of the block."""
        window = await self.windows.join()
        try:
            inserted = await window.insert(record)
        except BaseException:
            window.leave()
            raise
        if not inserted:
            window.leave()
            async with self._hold_alone(record) as held:
                yield held
            return
        fresh = Claim(fresh=True, conflict=False, published=False, event=record.event,
                      reply=record.reply)  # fmt: skip
        try:
            yield _Held(self, None, record, fresh)
        except BaseException:
            window.leave(failed=record)
            raise
        window.leave()

    async def close(self) -> None:
        """Commit the open window before the pool closes."""
        await self.windows.close()

    @asynccontextmanager
    async def _hold_alone(self, record: KeyRecord) -> AsyncIterator[_Held]:
        async with Bounded(self.timeout):
            connection = await self.pool.acquire()
        try:
            transaction = connection.transaction()
            try:
                async with Bounded(self.timeout):
                    await transaction.start()
                    claim = await self._claim(connection, record)
                yield _Held(self, connection, record, claim)
            except BaseException:
                await self._rollback(transaction)
                raise
            async with Bounded(self.timeout):
                await transaction.commit()
        finally:
            await release(self.pool, connection, self.timeout)

    async def _claim(self, connection: Any, r: KeyRecord) -> Claim:
        args = (r.client_id, r.key, r.body_sha256, r.case_id, r.event_id, r.event, r.reply)
        if await connection.fetchval(INSERT, *args) is not None:
            return Claim(fresh=True, conflict=False, published=False, event=r.event, reply=r.reply)
        row = await connection.fetchrow(_LOCK, r.client_id, r.key)
        if row is None:
            # Swept between the two statements: insert once more; a second miss is a retry.
            if await connection.fetchval(INSERT, *args) is None:
                raise StoreUnavailable("postgres: key row vanished and reappeared")
            return Claim(fresh=True, conflict=False, published=False, event=r.event, reply=r.reply)
        if bytes(row["body_sha256"]) != r.body_sha256:
            return Claim(fresh=False, conflict=True, published=False, event=b"", reply=b"")
        # Rows written before migration 0002 have no stored bytes: use this request's (same body).
        event = bytes(row["event"]) if row["event"] is not None else r.event
        reply = bytes(row["reply"]) if row["reply"] is not None else r.reply
        return Claim(
            fresh=False, conflict=False, published=bool(row["published"]), event=event, reply=reply
        )

    async def _rollback(self, transaction: Any) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await transaction.rollback()
        except Exception as error:  # the connection is dropped below; the server rolls back
            log.warning("rollback failed", error=type(error).__name__)

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
