"""The closing summary of a run: what opened, what escalated, who was told, how revisits went."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from tools.demo.run import Result
from tools.demo.stack import DEMO_POLICY, Api, Endpoints

# Room the story, channel, priority and sensitivity columns need beside a whole case page URL.
_COLUMNS_WIDTH = 60


def cases_table(result: Result, reporting: str, width: int = 200) -> Table:
    """One row per case: its story, priority, sensitivity and case page (its id when narrow)."""
    table = Table(title=f"Cases opened ({len(result.case_ids())} of {len(result.tracked)})")
    for column in ("story", "channel", "priority", "sensitive"):
        table.add_column(column, overflow="fold")
    page_width = len(reporting) + 43
    wide = width >= page_width + _COLUMNS_WIDTH
    if wide:
        # Whole on one line, so that it can be copied or clicked in the terminal.
        table.add_column("case page", no_wrap=True, min_width=page_width)
    else:
        # Each case's page is listed below the table, one whole URL a line.
        table.add_column("case", no_wrap=True)
    for tracked in result.tracked:
        reply = tracked.reply
        if tracked.case_id is None:
            page = "(not opened)"
        else:
            page = f"{reporting}/cases/{tracked.case_id}" if wide else tracked.case_id[:8]
        table.add_row(
            tracked.plan.story,
            str(reply.get("channel", "-")),
            str(reply.get("priority", "-")),
            ", ".join(reply.get("sensitive_reasons") or []) or "-",
            page,
        )
    return table


def escalations_table(result: Result) -> Table:
    """Escalations by tier and reason."""
    counts = Counter((e.payload.step, e.payload.reason) for e in result.escalations)
    table = Table(title=f"Escalations raised ({len(result.escalations)})")
    for column in ("step", "reason", "count"):
        table.add_column(column)
    for (step, reason), count in sorted(counts.items()):
        table.add_row(step, reason, str(count))
    return table


def told_table(result: Result) -> Table:
    """Who was told: the sink's notices by channel and recipient."""
    counts = Counter((n["channel"], n["recipient"]) for n in result.notices)
    table = Table(title=f"Who was told: notices at the sink ({len(result.notices)})")
    for column in ("channel", "recipient", "notices"):
        table.add_column(column)
    for (channel, recipient), count in sorted(counts.items()):
        table.add_row(channel, recipient, str(count))
    return table


def revisits_table(result: Result) -> Table:
    """Revisit outcomes recorded through the follow-up API."""
    counts = Counter(answer for t in result.tracked for answer in t.revisit_answers)
    table = Table(title=f"Revisit outcomes ({sum(counts.values())})")
    table.add_column("outcome")
    table.add_column("count")
    for outcome, count in sorted(counts.items()):
        table.add_row(outcome, str(count))
    return table


async def print_summary(result: Result, api: Api, endpoints: Endpoints, console: Console) -> None:
    """Print every table, the problems seen, and the URLs worth opening."""
    table = cases_table(result, endpoints.reporting, console.width)
    console.print(table)
    if table.columns[-1].header == "case":
        for tracked in result.tracked:
            if tracked.case_id:
                console.print(
                    f"  {tracked.case_id[:8]}  {endpoints.reporting}/cases/{tracked.case_id}"
                )
    if "escalation" not in result.skipped:
        console.print(escalations_table(result))
    if "sink" not in result.skipped:
        console.print(told_table(result))
        if result.escalations and not result.notices:
            console.print(
                "[yellow]Escalations fired but no notice reached the sink: the notifier's "
                f"recipients do not point at it. Run the stack with "
                f"CASEGOLD_POLICY_FILE={DEMO_POLICY}.[/yellow]"
            )
    if "followup" not in result.skipped:
        console.print(revisits_table(result))
    for failure in result.failures:
        console.print(f"[red]refused:[/red] {failure}")
    if result.timed_out:
        console.print("[yellow]The time limit came first: the figures above are partial.[/]")
    console.print(f"Finished in {result.elapsed:.0f} s. Open:")
    reporting = endpoints.reporting
    shown = {t.plan.story: t.case_id for t in result.tracked if t.case_id}
    for story, case_id in list(shown.items())[:5]:
        console.print(f"  {reporting}/cases/{case_id}  ({story})")
    for url, what, always in links(endpoints, datetime.now(UTC)):
        if await api.answers(url):
            console.print(f"  {url}  ({what})")
        elif always:
            console.print(f"  [dim]{url}  ({what}: not answering)[/dim]")


def weekly_report(reporting: str, now: datetime) -> str:
    """The weekly manager report of the ISO week the run ended in."""
    year, week, _ = now.isocalendar()
    return f"{reporting}/reports/weekly?week={year}-W{week:02d}"


def links(endpoints: Endpoints, now: datetime) -> list[tuple[str, str, bool]]:
    """(URL, what it shows, named even when it does not answer) after the case pages."""
    return [
        (weekly_report(endpoints.reporting, now), "weekly manager report", True),
        (f"{endpoints.sink}/", "notices received (the sink's page)", True),
        # Prometheus runs with `make up`; Grafana only in docker compose: named when running.
        (f"{endpoints.prometheus}/", "Prometheus", False),
        (f"{endpoints.grafana}/d/casegold-overview", "Grafana dashboard", False),
    ]
