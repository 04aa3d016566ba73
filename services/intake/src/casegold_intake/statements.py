"""PostgreSQL statements for intake: each one bounded, short and committed on its own.

`Batches` folds the requests that arrive while earlier statements run into one multi-row
statement (no timer: an idle service runs each request's statement at once). Every statement
commits by itself, so no request ever shares a transaction with another: one request's
failure cannot abort, roll back or hold up another's row (decision 0024).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final, Generic, TypeVar

import asyncpg
import structlog

from casegold_intake.ports import StoreUnavailable

log = structlog.get_logger("casegold_intake")

T = TypeVar("T")
R = TypeVar("R")

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
    asyncpg.SerializationError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)


async def release(pool: asyncpg.Pool, connection: Any, timeout: float) -> None:
    """Give a connection back to the pool in time, or drop it (the server rolls back)."""
    try:
        async with asyncio.timeout(timeout):
            await pool.release(connection)
    except Exception as error:
        log.warning("connection release failed", error=type(error).__name__)
        # The release goes on (the pool shields it); a proxy it already took back refuses
        # terminate(), and that must not fail a request whose answer is already decided.
        with contextlib.suppress(asyncpg.InterfaceError):
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


class Statements:
    """Runs one statement at a time on a pooled connection, every wait bounded by `timeout`.

    `lazy_pool`, when given, holds sessions with `synchronous_commit = off`: a statement that
    need not wait for the WAL flush runs there in one round trip, not inside a transaction.
    """

    def __init__(
        self, pool: asyncpg.Pool, timeout: float, lazy_pool: asyncpg.Pool | None = None
    ) -> None:
        self.pool = pool
        self.timeout = timeout
        self.lazy_pool = lazy_pool

    async def fetch(self, query: str, *args: Any, flush: bool = True) -> list[asyncpg.Record]:
        """The rows of one statement, committed alone (a deadlock is retried once).

        `flush=False` commits without waiting for the WAL flush, whatever the session says:
        for writes whose loss in a database crash costs nothing but a retry.
        """
        try:
            return await self._fetch(query, args, flush)
        except StoreUnavailable as error:
            # Statements lock rows in one order, so this should not happen; if it does, the
            # other statement has committed by now and a second try finds its rows.
            if not isinstance(error.__cause__, asyncpg.DeadlockDetectedError):
                raise
            log.warning("deadlock on a key statement; retried")
            return await self._fetch(query, args, flush)

    async def _fetch(self, query: str, args: Sequence[Any], flush: bool) -> list[asyncpg.Record]:
        pool = self.pool if flush or self.lazy_pool is None else self.lazy_pool
        async with Bounded(self.timeout):
            connection = await pool.acquire()
        try:
            async with Bounded(self.timeout):
                if flush or pool is self.lazy_pool:
                    rows: list[asyncpg.Record] = await connection.fetch(query, *args)
                    return rows
                async with connection.transaction():
                    await connection.execute("SET LOCAL synchronous_commit = off")
                    rows = await connection.fetch(query, *args)
                return rows
        finally:
            await release(pool, connection, self.timeout)


class Batches(Generic[T, R]):
    """Items submitted while `parallel` statements run are folded into the next one."""

    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        capacity: int = 128,
        parallel: int = 2,
        linger: float = 0.0,
    ) -> None:
        self._run = run
        self._capacity = capacity
        self._parallel = parallel
        self._linger = linger
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """The item's result, once the statement that carried it committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._start()
        return await future

    def _start(self) -> None:
        if self._linger:
            # Items wait up to `linger` for company: one statement carries what came meanwhile.
            if self._running < self._parallel and self._queue:
                self._running += 1
                self._spawn(self._linger_then_execute())
            return
        while self._running < self._parallel and self._queue:
            batch = self._queue[: self._capacity]
            del self._queue[: self._capacity]
            self._running += 1
            self._spawn(self._execute(batch))

    def _spawn(self, step: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(step)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _linger_then_execute(self) -> None:
        try:
            await asyncio.sleep(self._linger)
        except asyncio.CancelledError:
            self._running -= 1
            for _, future in self._queue:  # nothing runs them now: their callers hear of it
                if not future.done():
                    future.set_exception(StoreUnavailable("postgres: statement cancelled"))
            self._queue.clear()
            raise
        batch = self._queue[: self._capacity]
        del self._queue[: self._capacity]
        await self._execute(batch)

    async def _execute(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except (Exception, asyncio.CancelledError) as error:
            failure = error if isinstance(error, StoreUnavailable) else None
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure or StoreUnavailable(f"postgres: {error!r}"))
            if isinstance(error, asyncio.CancelledError):
                raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._running -= 1
            self._start()

    async def close(self) -> None:
        """Wait for the statements still running."""
        if self._tasks:
            await asyncio.wait(self._tasks)
