"""The projection's PostgreSQL store: offsets, case rows and one transaction per batch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final
from uuid import UUID

import asyncpg
import orjson

from casegold_reporting.rows import Batch, CaseRow, TimelineRow
from casegold_sla import PolicyRegistry, PolicySet, dump_state, load_policy_text, load_state
from casegold_sla.clock_ends import EndedClock
from casegold_sla.instants import from_us, span, span_us, to_us

CASE_COLUMNS: Final = (
    "case_id", "partition", "position", "opened_at", "updated_at", "status", "owner",
    "priority", "category", "channel", "dealer_id", "product", "external_ref", "summary",
    "sensitive", "sensitive_reasons", "repeat", "prior_case_ids", "cycle", "reopen_count",
    "first_response_at", "first_response_seconds", "resolved_at", "resolution_seconds",
    "closed_at", "root_cause_category", "revisit_outcome", "revisit_score", "breached",
    "state", "ended_clocks", "next_due_at",
)  # fmt: skip
TIMELINE_COLUMNS: Final = (
    "case_id", "event_id", "partition", "position", "type", "occurred_at", "recorded_at",
    "actor_kind", "actor_id", "payload", "outcome", "reason", "detail", "refused_by",
)  # fmt: skip
ESCALATION_COLUMNS: Final = (
    "escalation_id", "repeat", "audience", "case_id", "event_id", "partition", "position",
    "milestone", "cycle", "step", "tier", "reason", "due_at", "fired_at", "late_seconds",
)  # fmt: skip
_PAYLOAD: Final = TIMELINE_COLUMNS.index("payload")
assert TimelineRow._fields == TIMELINE_COLUMNS
_UPDATED = ", ".join(
    f"{column} = EXCLUDED.{column}" for column in CASE_COLUMNS if column not in ("case_id",)
).replace(
    "breached = EXCLUDED.breached", "breached = reporting_cases.breached OR EXCLUDED.breached"
)
# Rows are staged with COPY, then merged with one statement per table.
_STAGING: Final = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_cases (LIKE reporting_cases INCLUDING DEFAULTS) "
    "ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS staged_timeline (LIKE reporting_timeline) "
    "ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS staged_escalations (LIKE reporting_escalations) "
    "ON COMMIT DELETE ROWS",
)
_REFUSE: Final = """
    WITH refused AS (
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])
            AS r(case_id, event_id, reason, detail)),
    before AS (
        SELECT t.case_id, t.event_id, t.outcome FROM reporting_timeline t
        JOIN refused USING (case_id, event_id))
    UPDATE reporting_timeline t
       SET outcome = 'refused', reason = refused.reason, detail = refused.detail,
           refused_by = 'worker'
      FROM refused JOIN before USING (case_id, event_id)
     WHERE t.case_id = refused.case_id AND t.event_id = refused.event_id
    RETURNING before.outcome"""
# A step counts once (its first notice), on the day it fired: rows already stored before this
# statement are in its snapshot, the ones it inserts are not.
_ESCALATE: Final = """
    WITH inserted AS (
        INSERT INTO reporting_escalations SELECT * FROM staged_escalations
        ON CONFLICT (escalation_id, repeat, audience) DO NOTHING
        RETURNING escalation_id, repeat, tier, reason, fired_at)
    SELECT (min(fired_at) AT TIME ZONE $1)::date AS day, min(tier) AS tier, min(reason) AS reason
      FROM inserted i
     WHERE NOT EXISTS (SELECT 1 FROM reporting_escalations e
                        WHERE e.escalation_id = i.escalation_id AND e.repeat = i.repeat)
     GROUP BY escalation_id, repeat"""
_BREACHED: Final = """
    WITH named AS (
        SELECT c.case_id,
               EXISTS (SELECT 1 FROM reporting_escalations e
                        WHERE e.case_id = c.case_id AND e.reason = 'sla_breach') AS breach
          FROM reporting_cases c
         WHERE c.case_id = ANY($1::uuid[]) AND (NOT c.escalated OR NOT c.breached)
           AND EXISTS (SELECT 1 FROM reporting_escalations e WHERE e.case_id = c.case_id))
    UPDATE reporting_cases c SET escalated = true, breached = c.breached OR named.breach
      FROM named
     WHERE c.case_id = named.case_id AND (NOT c.escalated OR (named.breach AND NOT c.breached))"""
_DAILY: Final = """
    INSERT INTO reporting_daily (day, metric, key, sub, cases, total_us)
    SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                         $6::bigint[])
    ON CONFLICT (metric, day, key, sub) DO UPDATE
       SET cases = reporting_daily.cases + EXCLUDED.cases,
           total_us = reporting_daily.total_us + EXCLUDED.total_us"""
_COUNTS: Final = """
    INSERT INTO reporting_case_counts (priority, status, cases)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
    ON CONFLICT (priority, status) DO UPDATE
       SET cases = reporting_case_counts.cases + EXCLUDED.cases"""
_OFFSETS: Final = """
    INSERT INTO reporting_offsets (topic, partition, next_offset)
    SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
    ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset"""
_AGENTS: Final = """
    INSERT INTO reporting_agents (owner, open, sensitive_open, cases, resolved, reopened)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                         $6::bigint[])
    ON CONFLICT (owner) DO UPDATE
       SET open = reporting_agents.open + EXCLUDED.open,
           sensitive_open = reporting_agents.sensitive_open + EXCLUDED.sensitive_open,
           cases = reporting_agents.cases + EXCLUDED.cases,
           resolved = reporting_agents.resolved + EXCLUDED.resolved,
           reopened = reporting_agents.reopened + EXCLUDED.reopened"""


async def prepare(connection: asyncpg.Connection) -> None:
    """Create the staging tables of this connection (once per connection)."""
    for statement in _STAGING:
        await connection.execute(statement)


async def load_offsets(
    connection: asyncpg.Connection, topics: Iterable[str]
) -> dict[tuple[str, int], int]:
    """The next offset to read per (topic, partition), as last committed."""
    rows = await connection.fetch(
        "SELECT topic, partition, next_offset FROM reporting_offsets WHERE topic = ANY($1)",
        list(topics),
    )
    return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}


async def remember_policy(connection: asyncpg.Connection, policies: PolicySet, text: str) -> None:
    """Keep the current policy file's text under its version."""
    await connection.execute(
        "INSERT INTO reporting_policies (version, text) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        policies.version,
        text,
    )


async def policy_registry(connection: asyncpg.Connection, current: PolicySet) -> PolicyRegistry:
    """Every policy version cases were opened under, the current one for new cases."""
    registry = PolicyRegistry(current)
    for row in await connection.fetch("SELECT version, text FROM reporting_policies"):
        if row["version"] != current.version:
            registry.add(load_policy_text(row["text"], f"policy {row['version']}"))
    return registry


async def load_rows(
    connection: asyncpg.Connection, ids: Iterable[UUID], registry: PolicyRegistry
) -> dict[UUID, CaseRow]:
    """The stored rows of these cases (those that exist)."""
    columns = ", ".join(CASE_COLUMNS)
    rows = await connection.fetch(
        f"SELECT {columns} FROM reporting_cases WHERE case_id = ANY($1::uuid[])", list(ids)
    )
    return {row["case_id"]: decode_row(row, registry) for row in rows}


async def write(connection: asyncpg.Connection, batch: Batch) -> int:
    """Write a batch and its offsets in one transaction; returns refusals not foreseen here."""
    disagreements = 0
    async with connection.transaction():
        if batch.cases:
            await connection.copy_records_to_table(
                "staged_cases", records=[encode_row(r) for r in batch.cases.values()],
                columns=CASE_COLUMNS,
            )  # fmt: skip
            columns = ", ".join(CASE_COLUMNS)
            await connection.execute(
                f"INSERT INTO reporting_cases ({columns}) SELECT {columns} FROM staged_cases "
                f"ON CONFLICT (case_id) DO UPDATE SET {_UPDATED}"
            )
        if batch.timeline:
            await connection.copy_records_to_table(
                "staged_timeline", records=[_timeline(r) for r in batch.timeline],
                columns=TIMELINE_COLUMNS,
            )  # fmt: skip
            await connection.execute(
                "INSERT INTO reporting_timeline SELECT * FROM staged_timeline "
                "ON CONFLICT (case_id, event_id) DO NOTHING"
            )
        if batch.escalations:
            await connection.copy_records_to_table(
                "staged_escalations",
                records=[
                    tuple(getattr(r, c) for c in ESCALATION_COLUMNS) for r in batch.escalations
                ],
                columns=ESCALATION_COLUMNS,
            )
            steps = await connection.fetch(_ESCALATE, batch.rollups.timezone)
            for step in steps:
                batch.rollups.add((step["day"], "escalation", str(step["tier"]), step["reason"]))
        if batch.refusals:
            refusals = batch.refusals
            before = await connection.fetch(
                _REFUSE,
                [r.case_id for r in refusals],
                [r.event_id for r in refusals],
                [r.reason for r in refusals],
                [r.detail for r in refusals],
            )
            disagreements = sum(1 for row in before if row["outcome"] == "applied")
        # A stored row keeps its flags through the upsert, and a notice read later sets them:
        # only rows written first here and cases with new notices need the look-up.
        touched = {*batch.new_cases, *(e.case_id for e in batch.escalations)}
        if touched:
            await connection.execute(_BREACHED, list(touched))
        # In key order: shards writing at once then lock the counts rows in the same order.
        counts = sorted((p, s, n) for (p, s), n in batch.counts.items() if n)
        if counts:
            await connection.execute(_COUNTS, *_columns(counts))
        await _write_rollups(connection, batch)
        if batch.offsets:
            offsets = [(t, p, n) for (t, p), n in batch.offsets.items()]
            await connection.execute(_OFFSETS, *_columns(offsets))
    return disagreements


async def _write_rollups(connection: asyncpg.Connection, batch: Batch) -> None:
    daily = batch.rollups.daily_rows()
    if daily:
        await connection.execute(_DAILY, *_columns(daily))
    agents = batch.rollups.agent_rows()
    if agents:
        await connection.execute(_AGENTS, *_columns(agents))


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as the column arrays an unnest(...) statement takes."""
    return [list(column) for column in zip(*rows, strict=True)]


def encode_row(row: CaseRow) -> tuple[Any, ...]:
    """A case row as the COPY record of CASE_COLUMNS."""
    values: dict[str, Any] = {column: getattr(row, column) for column in CASE_COLUMNS}
    values["sensitive_reasons"] = list(row.sensitive_reasons)
    values["prior_case_ids"] = list(row.prior_case_ids)
    values["state"] = orjson.dumps(dump_state(row.state))
    values["ended_clocks"] = orjson.dumps([_dump_clock(c) for c in row.ended_clocks]).decode()
    return tuple(values[column] for column in CASE_COLUMNS)


def decode_row(record: asyncpg.Record, registry: PolicyRegistry) -> CaseRow:
    """A stored case row with its core state rebuilt."""
    values = dict(record)
    values["sensitive_reasons"] = tuple(values["sensitive_reasons"])
    values["prior_case_ids"] = tuple(values["prior_case_ids"])
    values["state"] = load_state(orjson.loads(values["state"]), registry)
    values["ended_clocks"] = tuple(load_clock(c) for c in orjson.loads(values["ended_clocks"]))
    return CaseRow(**values)


def _dump_clock(clock: EndedClock) -> dict[str, Any]:
    return {
        "milestone": clock.milestone,
        "cycle": clock.cycle,
        "target_us": span_us(clock.target),
        "elapsed_us": span_us(clock.elapsed),
        "ended_us": to_us(clock.ended_at),
        "met": clock.met,
    }


def load_clock(document: dict[str, Any]) -> EndedClock:
    """An ended clock from its stored JSON."""
    return EndedClock(
        milestone=document["milestone"],
        cycle=document["cycle"],
        target=span(document["target_us"]),
        elapsed=span(document["elapsed_us"]),
        ended_at=from_us(document["ended_us"]),
        met=document["met"],
    )


def _timeline(row: TimelineRow) -> tuple[Any, ...]:
    # The row's fields are TIMELINE_COLUMNS in order; only the payload needs encoding.
    return (*row[:_PAYLOAD], orjson.dumps(row.payload).decode(), *row[_PAYLOAD + 1 :])
