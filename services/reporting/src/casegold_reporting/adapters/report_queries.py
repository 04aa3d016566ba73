"""Read-only queries of the reports: the rollups, and the open cases' overdue/escalated counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from casegold_reporting.reports import AgentLoad, Totals

_TOTALS = """
    SELECT metric, key, sub, sum(cases)::bigint AS cases, sum(total_us)::bigint AS total_us
      FROM reporting_daily
     WHERE metric = ANY($1::text[]) AND day BETWEEN $2 AND $3
     GROUP BY metric, key, sub"""
_PER_DAY = """
    SELECT day, key, cases FROM reporting_daily
     WHERE metric = $1 AND day BETWEEN $2 AND $3 AND cases <> 0"""
# The open cases' part reads the partial index reporting_cases_open_owner only.
_AGENTS = """
    WITH open AS (
        SELECT owner, count(*) FILTER (WHERE next_due_at < $1) AS overdue,
               count(*) FILTER (WHERE escalated) AS escalated
          FROM reporting_cases
         WHERE status <> 'closed' AND owner IS NOT NULL
         GROUP BY owner)
    SELECT a.owner, a.open, a.sensitive_open, a.cases, a.resolved, a.reopened,
           coalesce(open.overdue, 0) AS overdue, coalesce(open.escalated, 0) AS escalated_open
      FROM reporting_agents a LEFT JOIN open USING (owner)
     WHERE a.cases > 0"""


class ReportQueries:
    """The reads behind /v1/reports and the weekly report."""

    def __init__(self, pool: asyncpg.Pool | None = None) -> None:
        # Set once the service's lifespan has opened the pool.
        self.pool = pool

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("the database pool is not open yet")
        return self.pool

    async def totals(self, metrics: Sequence[str], first: date, last: date) -> Totals:
        """The rollup counters of `metrics` summed over the days first … last."""
        rows = await self._pool().fetch(_TOTALS, list(metrics), first, last)
        return {(r["metric"], r["key"], r["sub"]): (r["cases"], r["total_us"]) for r in rows}

    async def per_day(self, metric: str, first: date, last: date) -> list[tuple[date, str, int]]:
        """One metric's counts per day and key."""
        rows = await self._pool().fetch(_PER_DAY, metric, first, last)
        return [(r["day"], r["key"], r["cases"]) for r in rows]

    async def agent_loads(self, now: datetime) -> list[AgentLoad]:
        """Every owner's load, overdue counted against `now`."""
        rows = await self._pool().fetch(_AGENTS, now)
        return [AgentLoad(**dict(row)) for row in rows]
