"""The reports as the API, the pages and `make report` ask for them: queries, then the core."""

from __future__ import annotations

import asyncio
from datetime import datetime

from casegold_reporting import reports
from casegold_reporting.adapters.report_queries import ReportQueries
from casegold_reporting.report_models import Agents, Dealers, Period, Summary, Weekly
from casegold_sla import ReportSettings


class Reports:
    """Each report from the rollups; `now` is always passed in."""

    def __init__(self, queries: ReportQueries, settings: ReportSettings) -> None:
        self.queries = queries
        self.settings = settings

    async def summary(self, span: Period) -> Summary:
        """GET /v1/reports/summary."""
        before = reports.previous(span)
        current, earlier = await asyncio.gather(
            self.queries.totals(reports.SUMMARY_METRICS, span.first, span.last),
            self.queries.totals(("root_cause",), before.first, before.last),
        )
        return reports.summary(current, earlier, span)

    async def dealers(self, span: Period) -> Dealers:
        """GET /v1/reports/dealers."""
        totals = await self.queries.totals(reports.DEALER_METRICS, span.first, span.last)
        return reports.dealers(totals, span, self.settings.dealer_flag_z)

    async def agents(self, now: datetime) -> Agents:
        """GET /v1/reports/agents."""
        loads = await self.queries.agent_loads(now)
        return reports.agents(loads, now, self.settings.agent_load_factor)

    async def weekly(self, week: str, now: datetime) -> Weekly:
        """The weekly manager report of ISO week `week` (agents' load as of `now`)."""
        span = reports.iso_week(week, self.settings.timezone)
        summary, dealers, agents, per_day = await asyncio.gather(
            self.summary(span),
            self.dealers(span),
            self.agents(now),
            self.queries.per_day("opened.category", span.first, span.last),
        )
        return Weekly(
            week=week, summary=summary, volume=reports.volume(per_day, span), dealers=dealers,
            agents=agents,
        )  # fmt: skip

    def period(self, first: str | None, last: str | None, now: datetime) -> Period:
        """The period of ?from&to (dates; default the 7 days up to today in the reports' zone)."""
        zone = reports.zone_of(self.settings.timezone)
        end = reports.parse_day("to", last) if last else now.astimezone(zone).date()
        start = reports.parse_day("from", first) if first else end - reports.WEEK_BEFORE
        return reports.period(start, end, self.settings.timezone)
