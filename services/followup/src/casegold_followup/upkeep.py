"""Queue upkeep: promote callbacks that became visible, end expired leases, keep gauges right."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import structlog

from casegold_followup.adapters import postgres
from casegold_followup.metrics import FollowupMetrics
from casegold_followup.settings import FollowupSettings
from casegold_platform.clock import Clock

log = structlog.get_logger("casegold_followup")


class Upkeep:
    """Periodic short transactions; several replicas may run them side by side (SKIP LOCKED)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        settings: FollowupSettings,
        metrics: FollowupMetrics,
        clock: Clock,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.metrics = metrics
        self.clock = clock

    async def promote_once(self) -> int:
        """Move due callbacks into the queue until none is left; how many moved."""
        total = 0
        async with self.pool.acquire(timeout=self.settings.db_timeout_seconds) as conn:
            while True:
                async with self.metrics.changing(conn) as change:
                    kinds = await postgres.promote(conn, self.clock(), self.settings.promote_batch)
                    change.queued += kinds
                total += len(kinds)
                if len(kinds) < self.settings.promote_batch:
                    break
            now = self.clock()
            self.metrics.oldest(await postgres.oldest_free_due(conn), now)
        return total

    async def expire_once(self) -> int:
        """End leases that ran out."""
        async with self.pool.acquire(timeout=self.settings.db_timeout_seconds) as conn:
            expired = await postgres.expire_leases(conn, self.clock())
        self.metrics.expired.inc(expired)
        return expired

    async def recount_once(self) -> None:
        """Re-read the gauges from the ready table (its size is bounded by what is due)."""
        async with self.pool.acquire(timeout=self.settings.db_timeout_seconds) as conn:
            async with self.metrics.gate.count():
                counts, oldest = await postgres.queue_counts(conn)
                self.metrics.recount(counts)
            self.metrics.oldest(oldest, self.clock())
            retention = timedelta(days=self.settings.seen_retention_days)
            await postgres.sweep_seen(conn, self.clock() - retention)

    async def run(self) -> None:
        """Every task on its own interval, until cancelled; failures are logged and retried."""
        s = self.settings
        await asyncio.gather(
            self._every(s.promote_interval_seconds, self.promote_once, "promote"),
            self._every(s.expire_interval_seconds, self.expire_once, "expire leases"),
            self._every(s.reconcile_interval_seconds, self.recount_once, "recount"),
        )

    @staticmethod
    async def _every(interval: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        while True:
            try:
                await job()
            except (*postgres.DOWN, asyncpg.PostgresError) as error:
                log.warning("queue upkeep failed; retrying", job=name, error=type(error).__name__)
            await asyncio.sleep(interval)
