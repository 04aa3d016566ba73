"""`python -m casegold_reporting.report --week YYYY-Www`: write a week's report to files.

Reads the projections straight from PostgreSQL (`CASEGOLD_PG_*`, `CASEGOLD_POLICY_FILE`), so
the service need not run; writes a self-contained HTML page (stylesheet inline, charts as
SVG) and the same figures as CSV beside it. `make report WEEK=…` calls this.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import asyncpg

from casegold_platform.clock import utc_now
from casegold_platform.settings import ConfigError, PolicySettings, PostgresSettings, load
from casegold_reporting import reports, weekly_table
from casegold_reporting.adapters.report_queries import ReportQueries
from casegold_reporting.pages import HERE
from casegold_reporting.report_api import render_weekly
from casegold_reporting.report_service import Reports
from casegold_sla import PolicyError


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m casegold_reporting.report")
    parser.add_argument("--week", help="ISO week YYYY-Www (default: the last full week)")
    parser.add_argument("--out", type=Path, default=Path("var/reports"), help="folder")
    return parser.parse_args(argv)


async def write_report(dsn: str, service_settings: PolicySettings, week: str | None,
                       folder: Path) -> tuple[Path, Path]:  # fmt: skip
    """Render the week's report into `folder`; returns the HTML and CSV paths."""
    policies = service_settings.load()
    now = utc_now()
    zone = reports.zone_of(policies.reports.timezone)
    chosen = week or reports.week_of(now.astimezone(zone).date() - timedelta(days=7))
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    try:
        report = await Reports(ReportQueries(pool), policies.reports).weekly(chosen, now)
    finally:
        await pool.close()
    page = render_weekly(report, (HERE / "static" / "reporting.css").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    html, csv = folder / f"weekly-{chosen}.html", folder / f"weekly-{chosen}.csv"
    html.write_text(page, encoding="utf-8")
    csv.write_text(weekly_table.to_csv(report), encoding="utf-8")
    return html, csv


def main(argv: list[str] | None = None) -> int:
    """Write the report; 2 on a bad setting or week, with the reason."""
    arguments = _arguments(argv)
    try:
        dsn = load(PostgresSettings).dsn
        policy = load(PolicySettings)
        html, csv = asyncio.run(write_report(dsn, policy, arguments.week, arguments.out))
    except (ConfigError, PolicyError, reports.BadPeriod, OSError) as error:
        print(f"casegold-report: {error}", file=sys.stderr)
        return 2
    except asyncpg.UndefinedTableError as error:
        print(
            f"casegold-report: {error}: the database has no report rollups yet; start the "
            "reporting service once (it applies its migrations) and let it project",
            file=sys.stderr,
        )
        return 2
    print(f"weekly report: {html}\nsame figures as CSV: {csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
