"""The weekly report as one table (pure): the CSV is it, and the page's tables are drawn from it.

Each row is (section, item, measure, value), values already formatted, so the CSV and the
HTML page cannot disagree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from casegold_reporting.report_models import Weekly

COLUMNS: Final = ("section", "item", "measure", "value")
TITLES: Final = {
    "period": "Period",
    "volume": "Cases opened per day and category",
    "opened": "Cases opened",
    "compliance": "SLA compliance per milestone",
    "durations": "Business time to first response and resolution (seconds)",
    "escalations": "Escalations per tier",
    "escalation_reasons": "Escalations per reason",
    "root_causes": "Top root causes",
    "reopens": "Reopens",
    "revisits": "Revisit satisfaction",
    "dealers": "Dealers",
    "agents": "Agent load",
}


def cell(value: object) -> str:
    """A value as both the CSV and the page show it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def rows(report: Weekly) -> list[tuple[str, str, str, str]]:
    """Every figure of the report."""
    return [(s, i, m, cell(v)) for s, i, m, v in _figures(report)]


def _figures(report: Weekly) -> Iterator[tuple[str, str, str, object]]:
    summary, span = report.summary, report.summary.period
    yield from (
        ("period", "week", "value", report.week), ("period", "from", "value", span.first),
        ("period", "to", "value", span.last), ("period", "timezone", "value", span.timezone),
    )  # fmt: skip
    for volume in report.volume:
        yield "volume", volume.day.isoformat(), volume.category, volume.cases
    yield "opened", "all", "cases", summary.opened
    for name, counts in (("category", summary.by_category), ("channel", summary.by_channel),
                         ("priority", summary.by_priority)):  # fmt: skip
        for key, cases in counts.items():
            yield "opened", f"{name}: {key}", "cases", cases
    for clock in summary.compliance:
        for measure in ("met", "breached", "percent"):
            yield "compliance", clock.milestone, measure, getattr(clock, measure)
    for name, durations in (("first_response", summary.first_response),
                            ("resolution", summary.resolution)):  # fmt: skip
        for measure in ("measured", "median_seconds", "p90_seconds", "mean_seconds"):
            yield "durations", name, measure, getattr(durations, measure)
    for tier, steps in summary.escalations.by_tier.items():
        yield "escalations", tier, "steps", steps
    for reason, steps in summary.escalations.by_reason.items():
        yield "escalation_reasons", reason, "steps", steps
    for cause in summary.root_causes:
        for measure in ("cases", "share_percent", "previous_share_percent", "trend"):
            yield "root_causes", cause.category, measure, getattr(cause, measure)
    reopens = summary.reopens
    yield from (("reopens", "all", m, getattr(reopens, m))
                for m in ("resolved", "reopened", "rate_percent"))  # fmt: skip
    revisits = summary.revisits
    yield "revisits", "all", "scored", revisits.scored
    yield "revisits", "all", "mean_score", revisits.mean_score
    for score, cases in revisits.distribution.items():
        yield "revisits", f"score {score}", "cases", cases
    for dealer in report.dealers.dealers:
        for measure in ("cases", "rate_vs_mean", "z_score", "flagged"):
            yield "dealers", dealer.dealer_id, measure, getattr(dealer, measure)
        for clock in dealer.compliance:
            yield "dealers", dealer.dealer_id, f"{clock.milestone} %", clock.percent
    for agent in report.agents.agents:
        for measure in ("open", "overdue", "sensitive_open", "escalated_open",
                        "reopen_rate_percent", "load_vs_mean", "flagged"):  # fmt: skip
            yield "agents", agent.owner, measure, getattr(agent, measure)


def to_csv(report: Weekly) -> str:
    """The report as CSV text (a header, then one figure a line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(report))
    return out.getvalue()


@dataclass(slots=True)
class Section:
    """One section of the page: items down, measures across."""

    name: str
    title: str
    measures: list[str] = field(default_factory=list)
    items: dict[str, dict[str, str]] = field(default_factory=dict)


def sections(report: Weekly) -> list[Section]:
    """The table rows grouped for the page, in report order."""
    grouped: dict[str, Section] = {}
    for section, item, measure, value in rows(report):
        part = grouped.setdefault(section, Section(section, TITLES[section]))
        if measure not in part.measures:
            part.measures.append(measure)
        part.items.setdefault(item, {})[measure] = value
    return list(grouped.values())
