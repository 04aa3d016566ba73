"""Read-only queries of the case views: projected rows and the notifier's delivery log."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from casegold_reporting.adapters import postgres
from casegold_reporting.models import CaseSummary
from casegold_reporting.rows import CaseRow, EscalationRow, TimelineRow
from casegold_reporting.views import Delivery
from casegold_sla import PolicyRegistry, PolicySet, StateFormatError

_SUMMARY = (
    "case_id, status, owner, priority, category, channel, dealer_id, summary, sensitive, "
    "repeat, breached, opened_at, updated_at"
)


class BadCursor(ValueError):
    """An `after` cursor this service did not hand out."""


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """The filters of GET /v1/cases (SPEC §5); None means any."""

    status: str | None = None
    owner: str | None = None
    priority: str | None = None
    category: str | None = None
    dealer: str | None = None
    breached: bool | None = None
    sensitive: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaseRecords:
    """What the case view is built from."""

    case: CaseRow
    timeline: list[TimelineRow]
    escalations: list[EscalationRow]
    deliveries: list[Delivery]


class CaseQueries:
    """The reads behind the API and the pages."""

    def __init__(self, policies: PolicySet, pool: asyncpg.Pool | None = None) -> None:
        # Set once the service's lifespan has opened the pool.
        self.pool = pool
        self.policies = policies
        self.registry = PolicyRegistry(policies)

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("the database pool is not open yet")
        return self.pool

    async def case(self, case_id: UUID) -> CaseRecords | None:
        """A case with its timeline, escalations and deliveries; None if not projected."""
        async with self._pool().acquire() as connection:
            row = await self._row(connection, case_id)
            if row is None:
                return None
            timeline = await connection.fetch(
                "SELECT * FROM reporting_timeline WHERE case_id = $1 ORDER BY position", case_id
            )
            escalations = await connection.fetch(
                "SELECT * FROM reporting_escalations WHERE case_id = $1", case_id
            )
            deliveries = await _deliveries(connection, case_id)
        return CaseRecords(
            row,
            [_timeline(r) for r in timeline],
            [EscalationRow(**dict(r)) for r in escalations],
            deliveries,
        )

    async def _row(self, connection: asyncpg.Connection, case_id: UUID) -> CaseRow | None:
        try:
            rows = await postgres.load_rows(connection, [case_id], self.registry)
        except StateFormatError:
            # Opened under a policy file this process has not seen: the projector stored it.
            self.registry = await postgres.policy_registry(connection, self.policies)
            rows = await postgres.load_rows(connection, [case_id], self.registry)
        return rows.get(case_id)

    async def event(self, case_id: UUID, event_id: UUID) -> TimelineRow | None:
        """One timeline entry."""
        async with self._pool().acquire() as connection:
            row = await connection.fetchrow(
                "SELECT * FROM reporting_timeline WHERE case_id = $1 AND event_id = $2",
                case_id,
                event_id,
            )
        return None if row is None else _timeline(row)

    async def cases(
        self, where: CaseFilter, after: str | None, limit: int
    ) -> tuple[list[CaseSummary], str | None]:
        """A page of cases, newest first, and the cursor of the next page."""
        clauses, arguments = _clauses(where)
        if after is not None:
            opened_at, case_id = _read_cursor(after)
            arguments += [opened_at, case_id]
            clauses.append(f"(opened_at, case_id) < (${len(arguments) - 1}, ${len(arguments)})")
        condition = " AND ".join(clauses) or "true"
        arguments.append(limit + 1)
        async with self._pool().acquire() as connection:
            rows = await connection.fetch(
                f"SELECT {_SUMMARY} FROM reporting_cases WHERE {condition} "
                f"ORDER BY opened_at DESC, case_id DESC LIMIT ${len(arguments)}",
                *arguments,
            )
        items = [CaseSummary.model_validate(dict(row)) for row in rows[:limit]]
        following = _cursor(items[-1]) if len(rows) > limit else None
        return items, following

    async def case_counts(self) -> list[tuple[str, str, int]]:
        """Cases per (priority, status), as the projector keeps them."""
        async with self._pool().acquire() as connection:
            rows = await connection.fetch(
                "SELECT priority, status, cases FROM reporting_case_counts"
            )
        return [(row["priority"], row["status"], row["cases"]) for row in rows]


def _clauses(where: CaseFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    arguments: list[Any] = []
    for column, value in (
        ("status", where.status), ("owner", where.owner), ("priority", where.priority),
        ("category", where.category), ("dealer_id", where.dealer),
        ("breached", where.breached), ("sensitive", where.sensitive),
    ):  # fmt: skip
        if value is not None:
            arguments.append(value)
            clauses.append(f"{column} = ${len(arguments)}")
    if where.opened_from is not None:
        arguments.append(where.opened_from)
        clauses.append(f"opened_at >= ${len(arguments)}")
    if where.opened_to is not None:
        arguments.append(where.opened_to)
        clauses.append(f"opened_at < ${len(arguments)}")
    return clauses, arguments


def _cursor(item: CaseSummary) -> str:
    text = f"{item.opened_at.isoformat()}|{item.case_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        opened_at, case_id = text.split("|")
        instant = datetime.fromisoformat(opened_at)
        if instant.tzinfo is None:
            raise ValueError("naive")
        return instant, UUID(case_id)
    except ValueError:
        raise BadCursor("not a cursor from a previous page") from None


def _timeline(row: asyncpg.Record) -> TimelineRow:
    values = dict(row)
    values["payload"] = orjson.loads(values["payload"])
    return TimelineRow(**values)


async def _deliveries(connection: asyncpg.Connection, case_id: UUID) -> list[Delivery]:
    # The notifier's delivery log, read as it stands (decision 0052); absent until it migrates.
    try:
        rows = await connection.fetch(
            "SELECT escalation_id, repeat, recipient, channel, status, attempts, delivered_at, "
            "last_error FROM notification_deliveries WHERE case_id = $1 AND kind = 'notice' "
            "ORDER BY id",
            case_id,
        )
    except asyncpg.UndefinedTableError:
        return []
    return [Delivery(**dict(row)) for row in rows]
