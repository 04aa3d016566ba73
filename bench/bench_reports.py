"""Reports benchmark: summary, dealers, agents and weekly latency over 1,000,000 projected cases.

The projection tables are seeded directly in a scratch schema (no Kafka): `reporting_cases` by
one `INSERT … SELECT` over `generate_series` (a year of cases, 7 categories and channels, 4
priorities, 300 dealers of skewed volume on 40 % of cases, 200 owners of skewed load, 30 % not
closed), then the rollups (`reporting_daily`, `reporting_agents`) by SQL aggregates of those
rows with the projector's rules (same metrics, keys and duration buckets). Then VACUUM ANALYZE
(what autovacuum does for a live projection). The reporting app runs in-process with the
projector off, and each report is fetched over HTTP (ASGI) `--runs` times:

    .venv/bin/python bench/bench_reports.py [--cases 1000000] [--runs 5] [--keep]

summary and dealers are asked for the whole seeded year (every case); weekly for the last
week; agents over every owner's open cases. Prints p50 and max per report.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

from casegold_platform.logging import configure
from casegold_platform.settings import KafkaSettings, PolicySettings, PostgresSettings, load
from casegold_reporting.adapters import schema
from casegold_reporting.report_math import GROWTH
from casegold_reporting.reports import week_of
from casegold_reporting.settings import ReportingSettings
from casegold_reporting.wiring import Config, build_app

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "deploy/policy/default.yaml"
START = datetime(2025, 11, 30, 16, tzinfo=UTC)  # a year up to 2026-11-30 (Shanghai days)
END = START + timedelta(days=365)
MANAGER = {"Authorization": "Bearer dev-manager-key"}
CATEGORIES = "product,service_attitude,broken_promise,response_speed,billing,delivery,other"
CHANNELS = "ivr,phone,web,email,social,letter,walk_in"
CAUSES = "product,process,dealer,training,logistics,billing,communication,other"

SEED_CASES = f"""
WITH s AS (
    SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5, random() r6,
           random() r7, $2::timestamptz + random() * interval '365 days' AS o
      FROM generate_series(1, $1::int) g)
INSERT INTO reporting_cases (
    case_id, partition, position, opened_at, updated_at, status, owner, priority, category,
    channel, dealer_id, external_ref, summary, sensitive, sensitive_reasons, repeat,
    prior_case_ids, cycle, reopen_count, first_response_at, first_response_seconds,
    resolved_at, resolution_seconds, closed_at, root_cause_category, revisit_outcome,
    revisit_score, breached, state, ended_clocks, escalated, next_due_at)
SELECT md5(g::text)::uuid, g % 12, g, o, o + interval '2 hours',
       CASE WHEN r1 < 0.7 THEN 'closed' WHEN r1 < 0.8 THEN 'resolved'
            WHEN r1 < 0.9 THEN 'in_progress' ELSE 'acknowledged' END,
       'agent-' || floor(r2 * r2 * 200)::int,
       (ARRAY['P1','P2','P3','P4'])[1 + floor(r3 * 4)::int],
       (string_to_array('{CATEGORIES}', ','))[1 + floor(r4 * 7)::int],
       (string_to_array('{CHANNELS}', ','))[1 + floor(r5 * 7)::int],
       CASE WHEN r6 < 0.4 THEN 'dealer-' || floor((r6 / 0.4) ^ 2 * 300)::int END,
       'call-' || g, 'seeded case', r7 < 0.02, '{{}}', false, '{{}}', 1, (r7 > 0.95)::int,
       o + r2 * interval '8 hours', r2 * 8 * 3600,
       CASE WHEN r1 < 0.8 THEN o + r3 * interval '5 days' END,
       CASE WHEN r1 < 0.8 THEN r3 * 5 * 86400 END,
       CASE WHEN r1 < 0.7 THEN o + interval '6 days' END,
       CASE WHEN r1 < 0.8 THEN (string_to_array('{CAUSES}', ','))[1 + floor(r5 * 8)::int] END,
       CASE WHEN r1 < 0.7 THEN 'satisfied' END,
       CASE WHEN r1 < 0.7 THEN 1 + floor(r4 * 5)::int END,
       r2 > 0.9, '\\x00'::bytea, '[]'::jsonb, r7 < 0.1,
       CASE WHEN r1 >= 0.7 THEN o + r4 * interval '400 days' END
  FROM s"""
DAY = "((%s) AT TIME ZONE $1)::date"
BUCKET = f"CASE WHEN %s < 1 THEN 0 ELSE floor(ln(%s) / ln({GROWTH}))::int + 1 END"
DAILY = "INSERT INTO reporting_daily (day, metric, key, sub, cases, total_us) "
ROLLUPS = [
    f"{DAILY} SELECT {DAY % 'opened_at'}, 'opened', '', '', count(*), 0 FROM reporting_cases "
    "GROUP BY 1",
    *(
        f"{DAILY} SELECT {DAY % 'opened_at'}, 'opened.{name}', {column}, '', count(*), 0 "
        f"FROM reporting_cases WHERE {column} IS NOT NULL GROUP BY 1, 3"
        for name, column in (
            ("category", "category"),
            ("channel", "channel"),
            ("priority", "priority"),
            ("dealer", "dealer_id"),
        )
    ),
    *(
        f"{DAILY} SELECT {DAY % at}, 'clock', '{milestone}', "
        f"CASE WHEN {seconds} <= {target} THEN 'met' ELSE 'breached' END, count(*), 0 "
        f"FROM reporting_cases WHERE {at} IS NOT NULL GROUP BY 1, 4"
        for milestone, at, seconds, target in (
            ("first_response", "first_response_at", "first_response_seconds", 4 * 3600),
            ("solution_agreed", "first_response_at", "first_response_seconds", 6 * 3600),
            ("resolution", "resolved_at", "resolution_seconds", 4 * 86400),
        )
    ),
    *(
        f"{DAILY} SELECT {DAY % at}, 'dealer.{milestone}', dealer_id, "
        f"CASE WHEN {seconds} <= {target} THEN 'met' ELSE 'breached' END, count(*), 0 "
        f"FROM reporting_cases WHERE {at} IS NOT NULL AND dealer_id IS NOT NULL GROUP BY 1, 3, 4"
        for milestone, at, seconds, target in (
            ("dealer_first_response", "first_response_at", "first_response_seconds", 12 * 3600),
            ("dealer_solution_agreed", "resolved_at", "resolution_seconds", 3 * 86400),
            ("dealer_resolution", "resolved_at", "resolution_seconds", 4 * 86400),
        )
    ),
    *(
        f"{DAILY} SELECT {DAY % at}, 'duration.{milestone}', "
        f"({BUCKET % (seconds, seconds)})::text, '', count(*), "
        f"sum(({seconds} * 1e6)::bigint) FROM reporting_cases WHERE {at} IS NOT NULL "
        "GROUP BY 1, 3"
        for milestone, at, seconds in (
            ("first_response", "first_response_at", "first_response_seconds"),
            ("resolution", "resolved_at", "resolution_seconds"),
        )
    ),
    f"{DAILY} SELECT {DAY % 'resolved_at'}, 'resolved', '', '', count(*), 0 "
    "FROM reporting_cases WHERE resolved_at IS NOT NULL GROUP BY 1",
    f"{DAILY} SELECT {DAY % 'resolved_at'}, 'root_cause', root_cause_category, '', count(*), 0 "
    "FROM reporting_cases WHERE resolved_at IS NOT NULL GROUP BY 1, 3",
    f"{DAILY} SELECT {DAY % 'updated_at'}, 'reopened', '', '', count(*), 0 "
    "FROM reporting_cases WHERE reopen_count > 0 GROUP BY 1",
    f"{DAILY} SELECT {DAY % 'closed_at'}, 'revisit', revisit_outcome, revisit_score::text, "
    "count(*), 0 FROM reporting_cases WHERE revisit_outcome IS NOT NULL GROUP BY 1, 3, 4",
    f"{DAILY} SELECT {DAY % 'updated_at'}, 'escalation', (position % 4)::text, "
    "(ARRAY['sla_breach','sla_warning','sensitive','broken_promise'])[1 + position % 4], "
    "count(*), 0 FROM reporting_cases WHERE escalated GROUP BY 1, 3, 4",
    "INSERT INTO reporting_agents SELECT owner, count(*) FILTER (WHERE status <> 'closed'), "
    "count(*) FILTER (WHERE status <> 'closed' AND sensitive), count(*), "
    "count(*) FILTER (WHERE resolved_at IS NOT NULL), count(*) FILTER (WHERE reopen_count > 0) "
    "FROM reporting_cases GROUP BY owner",
]


async def seed(dsn: str, cases: int, timezone: str) -> dict[str, float]:
    """Seed the scratch schema; returns how long each part took and the table sizes."""
    took: dict[str, float] = {}
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await connection.execute("SELECT setseed(0.42)")
        await connection.execute(SEED_CASES, cases, START)
        took["cases_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for statement in ROLLUPS:
            await connection.execute(statement, *([timezone] if "$1" in statement else []))
        took["rollups_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for table in ("reporting_cases", "reporting_daily", "reporting_agents"):
            await connection.execute(f"VACUUM ANALYZE {table}")
        took["vacuum_s"] = time.perf_counter() - started
        took["daily_rows"] = await connection.fetchval("SELECT count(*) FROM reporting_daily")
        took["agents_rows"] = await connection.fetchval("SELECT count(*) FROM reporting_agents")
    finally:
        await connection.close()
    return took


async def measure(dsn: str, runs: int) -> dict[str, list[float]]:
    """Each report `runs` times through the app, in seconds."""
    settings = ReportingSettings(dev_keys=True, project=False, metrics_refresh_seconds=300)
    config = Config(settings, load(KafkaSettings), PostgresSettings(dsn=dsn),
                    PolicySettings(policy_file=POLICY))  # fmt: skip
    now = END - timedelta(hours=1)
    year = {"from": (START + timedelta(days=1)).date().isoformat(), "to": now.date().isoformat()}
    week = week_of(now.date() - timedelta(days=7))
    last_week = (now.date() - timedelta(days=6)).isoformat()
    asks = {
        "summary (year)": ("/v1/reports/summary", year),
        "summary (week)": ("/v1/reports/summary", {"from": last_week, "to": year["to"]}),
        "dealers (year)": ("/v1/reports/dealers", year),
        "agents": ("/v1/reports/agents", {}),
        "weekly (HTML)": ("/reports/weekly", {"week": week}),
        "weekly (CSV)": ("/reports/weekly.csv", {"week": week}),
    }
    times: dict[str, list[float]] = {name: [] for name in asks}
    app = build_app(config, lambda: now)
    async with LifespanManager(app, startup_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://r", timeout=60
        ) as client:
            for _ in range(runs):
                for name, (path, params) in asks.items():
                    started = time.perf_counter()
                    reply = await client.get(path, params=params, headers=MANAGER)
                    times[name].append(time.perf_counter() - started)
                    reply.raise_for_status()
            reply = await client.get("/v1/reports/summary", params=year, headers=MANAGER)
            summary = reply.json()
            measured = summary["first_response"]["measured"]
            print(f"  year summary: {summary['opened']:,} cases opened, {measured:,} measured")
    return times


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema")
    arguments = parser.parse_args()
    configure("bench-reports", "WARNING")
    base = load(PostgresSettings).dsn
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE SCHEMA "{name}"')
    dsn = f"{base}{'&' if '?' in base else '?'}search_path={name}"
    print(f"load average before: {os.getloadavg()[0]:.1f}; schema {name}")
    try:
        await schema.migrate(dsn)
        timezone = PolicySettings(policy_file=POLICY).load().reports.timezone
        took = await seed(dsn, arguments.cases, timezone)
        print(
            f"seeded {arguments.cases:,} cases: "
            + ", ".join(f"{k} {v:,.1f}" for k, v in took.items())
        )
        print(f"load average before measuring: {os.getloadavg()[0]:.1f}")
        for report, seconds in (await measure(dsn, arguments.runs)).items():
            print(f"  {report:<16} p50 {statistics.median(seconds):.3f} s  max {max(seconds):.3f} s"
                  f"  ({', '.join(f'{s:.3f}' for s in seconds)})")  # fmt: skip
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        if not arguments.keep:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
