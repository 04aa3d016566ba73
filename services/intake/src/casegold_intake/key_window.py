"""Key rows of requests arriving within a few milliseconds share one PostgreSQL transaction.

Each request still inserts its own row (one statement) and is held by it; the transaction's
BEGIN, COMMIT and pool connection are shared, so they cost once per window instead of once per
request. A window stops taking requests after `seconds` (or `capacity` requests) and commits
once every member is done: a member whose publish failed has its row deleted first, so a
committed row still always means "its event is durable". Members answer their client as soon as
their own event is acknowledged; if the commit then fails, their keys are lost, which costs at
most a re-publish of the same event id on a retry (consumers dedupe by event id).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import asyncpg
import structlog

from casegold_intake.ports import KeyRecord, StoreUnavailable

log = structlog.get_logger("casegold_intake")

# The row commits only after its event is durable (see above), so a fresh row carries its
# published_at from the start.
INSERT: Final = """
INSERT INTO idempotency_keys
    (client_id, key, body_sha256, case_id, event_id, event, reply, published_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())
ON CONFLICT (client_id, key) DO NOTHING
RETURNING 1
"""
_DELETE: Final = "DELETE FROM idempotency_keys WHERE client_id = $1 AND key = $2"

# Errors that mean "the database could not answer now", as opposed to a bug in a query.
TRANSIENT: Final = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.QueryCanceledError,
    asyncpg.LockNotAvailableError,
    asyncpg.DeadlockDetectedError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.InFailedSQLTransactionError,
)


async def release(pool: asyncpg.Pool, connection: Any, timeout: float) -> None:
    """Give a connection back to the pool in time, or drop it (the server rolls back)."""
    try:
        async with asyncio.timeout(timeout):
            await pool.release(connection)
    except Exception as error:
        log.warning("connection release failed", error=type(error).__name__)
        connection.terminate()


class Bounded:
    """One deadline around a few database calls; a transient failure becomes StoreUnavailable.

    asyncio.timeout, not wait_for: no task per call on a path taken by every request.
    """

    __slots__ = ("_seconds", "_timeout")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._timeout: asyncio.Timeout | None = None

    async def __aenter__(self) -> None:
        self._timeout = asyncio.timeout(self._seconds)
        await self._timeout.__aenter__()

    async def __aexit__(self, kind: Any, error: Any, traceback: Any) -> None:
        assert self._timeout is not None
        try:
            await self._timeout.__aexit__(kind, error, traceback)
        except TimeoutError as timeout:
            raise StoreUnavailable("postgres: timeout") from timeout
        if isinstance(error, TRANSIENT):
            raise StoreUnavailable(f"postgres: {type(error).__name__}") from error


class Window:
    """One shared transaction and the requests whose rows are in it."""

    def __init__(self, windows: Windows, connection: Any, transaction: Any) -> None:
        self._windows = windows
        self._connection = connection
        self._transaction = transaction
        self._statement = asyncio.Lock()  # a connection runs one statement at a time
        self._failed: list[tuple[str, str]] = []
        self._finishing = False
        self.members = 0
        self.accepting = True

    async def insert(self, record: KeyRecord) -> bool:
        """Insert the record's row; False when the key exists (or another window holds it)."""
        args = (record.client_id, record.key, record.body_sha256, record.case_id)
        async with self._statement, Bounded(self._windows.timeout):
            try:
                row = await self._connection.fetchval(
                    INSERT, *args, record.event_id, record.event, record.reply
                )
            except BaseException:
                # The transaction is aborted now: nobody else may join it.
                self.accepting = False
                raise
        return row is not None

    def leave(self, failed: KeyRecord | None = None) -> None:
        """A member is done; `failed` names a row that must not be committed."""
        self.members -= 1
        if failed is not None:
            self._failed.append((failed.client_id, failed.key))
        self._maybe_finish()

    def close(self) -> None:
        """Take no more members; commit once the current ones are done."""
        self.accepting = False
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if not self.accepting and self.members == 0 and not self._finishing:
            self._finishing = True
            self._windows.track(asyncio.create_task(self._finish()))

    async def _finish(self) -> None:
        try:
            async with self._statement, Bounded(self._windows.timeout):
                for client_id, key in self._failed:
                    await self._connection.execute(_DELETE, client_id, key)
                await self._transaction.commit()
        except Exception as error:
            log.warning("shared key transaction not committed", error=type(error).__name__)
            self._connection.terminate()  # the server rolls the transaction back
            return
        await self._windows.release(self._connection)


class Windows:
    """Opens windows on demand over a pool; at most one takes new members at a time."""

    def __init__(self, pool: asyncpg.Pool, timeout: float, seconds: float, capacity: int) -> None:
        self.pool = pool
        self.timeout = timeout
        self.seconds = seconds
        self.capacity = capacity
        self._open: Window | None = None
        self._opening = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def join(self) -> Window:
        """The window taking members now (a new one if none is), counting the caller in."""
        window = self._open
        if window is None or not window.accepting:
            async with self._opening:
                window = self._open
                if window is None or not window.accepting:
                    window = self._open = await self._start()
        window.members += 1
        if window.members >= self.capacity:
            window.close()
        return window

    async def _start(self) -> Window:
        async with Bounded(self.timeout):
            connection = await self.pool.acquire()
        transaction = connection.transaction()
        try:
            async with Bounded(self.timeout):
                await transaction.start()
        except BaseException:
            await self.release(connection)
            raise
        window = Window(self, connection, transaction)
        asyncio.get_running_loop().call_later(self.seconds, window.close)
        return window

    def track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def release(self, connection: Any) -> None:
        await release(self.pool, connection, self.timeout)

    async def close(self) -> None:
        """Commit what is open (after its members) before the pool closes."""
        if self._open is not None:
            self._open.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.timeout * 4)
