"""The report use cases (pure): summed rollup rows and settings to the report bodies."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from casegold_reporting import report_math as math_
from casegold_reporting.report_models import (
    AgentLine,
    Agents,
    Compliance,
    DayVolume,
    DealerLine,
    Dealers,
    Durations,
    Escalations,
    Period,
    Reopens,
    Revisits,
    RootCause,
    Summary,
)

# (metric, key, sub) → (cases, total business µs), summed over the period's days.
Totals = Mapping[tuple[str, str, str], tuple[int, int]]
MILESTONES: Final = ("first_response", "solution_agreed", "resolution", "revisit", "promise")
DEALER_MILESTONES: Final = ("dealer_first_response", "dealer_solution_agreed", "dealer_resolution")
SUMMARY_METRICS: Final = (
    "opened", "opened.category", "opened.channel", "opened.priority", "clock",
    "duration.first_response", "duration.resolution", "resolved", "reopened", "root_cause",
    "revisit", "escalation",
)  # fmt: skip
DEALER_METRICS: Final = ("opened.dealer", *(f"dealer.{m}" for m in DEALER_MILESTONES))
TOP_ROOT_CAUSES: Final = 5
WEEK_BEFORE: Final = timedelta(days=6)
_WEEK: Final = re.compile(r"(\d{4})-W(\d{2})")


class BadPeriod(ValueError):
    """A period or week the reports cannot answer for."""


def period(first: date, last: date, timezone: str, longest_days: int = 1100) -> Period:
    """Days `first` … `last` (inclusive); BadPeriod if reversed or too long."""
    if last < first:
        raise BadPeriod(f"to ({last}) is before from ({first})")
    days = (last - first).days + 1
    if days > longest_days:
        raise BadPeriod(f"at most {longest_days} days at once (asked {days})")
    return Period(first=first, last=last, days=days, timezone=timezone)


def zone_of(name: str) -> ZoneInfo:
    """The reports' zone."""
    return ZoneInfo(name)


def parse_day(name: str, text: str) -> date:
    """A ?from / ?to date; BadPeriod naming the parameter if it is not YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadPeriod(f"{name}: expected a date YYYY-MM-DD, got {text!r}") from None


def previous(of: Period) -> Period:
    """The period of the same length just before."""
    last = of.first - timedelta(days=1)
    return of.model_copy(update={"first": last - timedelta(days=of.days - 1), "last": last})


def iso_week(text: str, timezone: str) -> Period:
    """The Monday-to-Sunday period of an ISO week `YYYY-Www`."""
    match = _WEEK.fullmatch(text)
    if match is None:
        raise BadPeriod(f"week {text!r}: expected YYYY-Www, e.g. 2026-W48")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise BadPeriod(f"week {text!r} does not exist") from None
    return period(monday, monday + timedelta(days=6), timezone)


def week_of(day: date) -> str:
    """The ISO week `YYYY-Www` a day belongs to."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _by(totals: Totals, metric: str, sub: str | None = None) -> dict[str, int]:
    """Counts of one metric per key (most first), summed over `sub` unless one is given."""
    counts: dict[str, int] = {}
    for (name, key, part), (cases, _) in totals.items():
        if name == metric and (sub is None or part == sub) and cases:
            counts[key] = counts.get(key, 0) + cases
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _compliance(totals: Totals, metric: str, milestone: str, key: str | None = None) -> Compliance:
    def count(outcome: str) -> int:
        name, wanted = (metric, key) if key is not None else (metric, milestone)
        return totals.get((name, wanted, outcome), (0, 0))[0]

    met, breached = count("met"), count("breached")
    return Compliance(
        milestone=milestone, met=met, breached=breached, percent=math_.percent(met, met + breached)
    )


def _durations(totals: Totals, milestone: str) -> Durations:
    metric = f"duration.{milestone}"
    counts: dict[int, int] = {}
    measured = total_us = 0
    for (name, key, _), (cases, micros) in totals.items():
        if name == metric and cases:
            counts[int(key)] = counts.get(int(key), 0) + cases
            measured += cases
            total_us += micros

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return Durations(
        measured=measured,
        median_seconds=rounded(math_.histogram_percentile(counts, 0.5)),
        p90_seconds=rounded(math_.histogram_percentile(counts, 0.9)),
        mean_seconds=rounded(total_us / measured / 1e6) if measured else None,
    )


def root_causes(current: Totals, before: Totals) -> list[RootCause]:
    """The most frequent root causes of the period, with their share against the period before."""
    now, then = _by(current, "root_cause"), _by(before, "root_cause")
    whole, whole_before = sum(now.values()), sum(then.values())
    causes = []
    for category, cases in list(now.items())[:TOP_ROOT_CAUSES]:
        share = math_.share(cases, whole)
        earlier = then.get(category, 0)
        share_before = math_.share(earlier, whole_before) if whole_before else None
        causes.append(
            RootCause(
                category=category, cases=cases, share_percent=round(100 * share, 1),
                previous_cases=earlier, previous_share_percent=round(100 * (share_before or 0), 1),
                trend=math_.trend(share, share_before),
            )
        )  # fmt: skip
    return causes


def summary(current: Totals, before: Totals, span: Period) -> Summary:
    """The summary of a period (`before`: the root causes of the period just before it)."""
    resolved = current.get(("resolved", "", ""), (0, 0))[0]
    reopened = current.get(("reopened", "", ""), (0, 0))[0]
    scores = {str(score): 0 for score in range(1, 6)}
    for (name, _, score), (cases, _) in current.items():
        if name == "revisit" and score in scores:
            scores[score] += cases
    scored = sum(scores.values())
    weighted = sum(int(score) * cases for score, cases in scores.items())
    escalations = _by(current, "escalation")
    return Summary(
        period=span,
        previous=previous(span),
        opened=current.get(("opened", "", ""), (0, 0))[0],
        by_category=_by(current, "opened.category"),
        by_channel=_by(current, "opened.channel"),
        by_priority=dict(sorted(_by(current, "opened.priority").items())),
        compliance=[_compliance(current, "clock", milestone) for milestone in MILESTONES],
        first_response=_durations(current, "first_response"),
        resolution=_durations(current, "resolution"),
        escalations=Escalations(
            total=sum(escalations.values()),
            by_tier={tier_name(tier): n for tier, n in sorted(escalations.items())},
            by_reason=_reasons(current),
        ),
        reopens=Reopens(
            resolved=resolved, reopened=reopened, rate_percent=math_.percent(reopened, resolved)
        ),
        revisits=Revisits(
            outcomes=_by(current, "revisit"),
            scored=scored,
            mean_score=round(weighted / scored, 2) if scored else None,
            distribution=scores,
        ),
        root_causes=root_causes(current, before),
    )


def tier_name(tier: str) -> str:
    """A tier as people name it: tier 0 is the warning."""
    return "warning" if tier == "0" else f"tier_{tier}"


def _reasons(totals: Totals) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (name, _, reason), (cases, _) in totals.items():
        if name == "escalation" and cases:
            counts[reason] = counts.get(reason, 0) + cases
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def dealers(totals: Totals, span: Period, flag_z: float) -> Dealers:
    """Dealers with cases in the period: rate against the mean, z-score, their clocks."""
    cases = _by(totals, "opened.dealer")
    spread = math_.spread(cases.values())
    lines = []
    for dealer_id, count in cases.items():
        z = spread.z(count)
        lines.append(
            DealerLine(
                dealer_id=dealer_id,
                cases=count,
                rate_vs_mean=round(count / spread.mean, 2) if spread.mean else 0.0,
                z_score=round(z, 2),
                flagged=z >= flag_z,
                compliance=[
                    _compliance(totals, f"dealer.{milestone}", milestone, dealer_id)
                    for milestone in DEALER_MILESTONES
                ],
            )
        )
    return Dealers(
        period=span, dealers_counted=len(lines), mean_cases=round(spread.mean, 2),
        deviation=round(spread.deviation, 2), flag_z=flag_z, dealers=lines,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AgentLoad:
    """One owner's rollup row and the overdue and escalated counts of their open cases."""

    owner: str
    open: int
    sensitive_open: int
    cases: int
    resolved: int
    reopened: int
    overdue: int
    escalated_open: int


def agents(loads: Iterable[AgentLoad], as_of: datetime, factor: float) -> Agents:
    """Owners by open load; flagged when carrying `factor` × the team's mean or more."""
    rows = [load for load in loads if load.cases > 0]
    mean = math_.spread(load.open for load in rows).mean
    lines = [
        AgentLine(
            owner=load.owner, open=load.open, overdue=load.overdue,
            sensitive_open=load.sensitive_open, escalated_open=load.escalated_open,
            cases=load.cases, resolved=load.resolved, reopened=load.reopened,
            reopen_rate_percent=math_.percent(load.reopened, load.resolved),
            load_vs_mean=round(load.open / mean, 2) if mean else 0.0,
            flagged=mean > 0 and load.open >= factor * mean,
        )
        for load in rows
    ]  # fmt: skip
    lines.sort(key=lambda line: (-line.open, -line.overdue, line.owner))
    return Agents(as_of=as_of, team_mean_open=round(mean, 2), flag_factor=factor, agents=lines)


def volume(rows: Iterable[tuple[date, str, int]], span: Period) -> list[DayVolume]:
    """Cases opened per day and category, every day of the period present."""
    counts: dict[tuple[date, str], int] = {}
    categories: set[str] = set()
    for day, category, cases in rows:
        counts[(day, category)] = counts.get((day, category), 0) + cases
        categories.add(category)
    return [
        DayVolume(day=day, category=category, cases=counts.get((day, category), 0))
        for day in (span.first + timedelta(days=n) for n in range(span.days))
        for category in sorted(categories)
    ]
