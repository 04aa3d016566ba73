"""The report rollups (pure): what a batch adds to the daily counters and the agents' load.

Facts of a case's opening (category, channel, priority, dealer) and an agent's load follow the
case's current row, so they are kept as the difference between its row before and after the
batch; facts of an event (a clock ended, a resolution, a reopen, a revisit, an escalation) are
added once, on the day they happened (decision 0080).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from casegold_reporting.report_math import bucket_of

if TYPE_CHECKING:  # rows.py holds a Rollups in every Batch
    from casegold_reporting.rows import CaseRow
    from casegold_sla.clock_ends import EndedClock

# day, metric, key, sub
DailyKey = tuple[date, str, str, str]
# open, sensitive_open, cases, resolved, reopened
AGENT_MEASURES: Final = ("open", "sensitive_open", "cases", "resolved", "reopened")
MEASURED: Final = ("first_response", "resolution")
COHORT: Final = ("category", "channel", "priority", "dealer")


class Days:
    """Which calendar day an instant falls on, in the reports' zone."""

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self._zone = ZoneInfo(timezone)

    def __call__(self, instant: datetime) -> date:
        return instant.astimezone(self._zone).date()


@dataclass(slots=True)
class Rollups:
    """Changes to `reporting_daily` (cases, total µs) and `reporting_agents` of one batch."""

    daily: dict[DailyKey, list[int]] = field(default_factory=dict)
    agents: dict[str, list[int]] = field(default_factory=dict)
    # The zone of the days (escalation steps are counted in SQL, on their firing day there).
    timezone: str = "UTC"

    def add(self, key: DailyKey, cases: int = 1, total_us: int = 0) -> None:
        entry = self.daily.setdefault(key, [0, 0])
        entry[0] += cases
        entry[1] += total_us

    def daily_rows(self) -> list[tuple[date, str, str, str, int, int]]:
        """The non-zero changes in key order (shards then lock rows in the same order)."""
        return [(*key, n, us) for key, (n, us) in sorted(self.daily.items()) if n or us]

    def agent_rows(self) -> list[tuple[object, ...]]:
        """The non-zero agent changes in key order: owner, then AGENT_MEASURES."""
        return [(owner, *change) for owner, change in sorted(self.agents.items()) if any(change)]


def _cohort(row: CaseRow, days: Days) -> Iterator[DailyKey]:
    day = days(row.opened_at)
    yield day, "opened", "", ""
    yield day, "opened.category", row.category, ""
    yield day, "opened.channel", row.channel, ""
    yield day, "opened.priority", row.priority, ""
    if row.dealer_id is not None:
        yield day, "opened.dealer", row.dealer_id, ""


def _load(row: CaseRow) -> tuple[int, int, int, int, int]:
    active = row.status != "closed"
    return (
        int(active),
        int(active and row.sensitive),
        1,
        int(row.resolved_at is not None),
        int(row.reopen_count > 0),
    )


def case_changed(rollups: Rollups, before: CaseRow | None, after: CaseRow, days: Days) -> None:
    """Move the case's opening facts and its owner's load from `before` to `after`."""
    if before is not None:
        for key in _cohort(before, days):
            rollups.add(key, -1)
    for key in _cohort(after, days):
        rollups.add(key, 1)
    for row, sign in ((before, -1), (after, 1)):
        if row is None or row.owner is None:
            continue
        entry = rollups.agents.setdefault(row.owner, [0] * len(AGENT_MEASURES))
        for index, value in enumerate(_load(row)):
            entry[index] += sign * value


def clock_ended(rollups: Rollups, row: CaseRow, clock: EndedClock, days: Days) -> None:
    """Count an ended clock as met or breached, the dealer's own clocks per dealer."""
    day = days(clock.ended_at)
    outcome = "met" if clock.met else "breached"
    name = "promise" if clock.milestone.startswith("promise:") else clock.milestone
    rollups.add((day, "clock", name, outcome))
    if name.startswith("dealer_") and row.dealer_id is not None:
        rollups.add((day, f"dealer.{name}", row.dealer_id, outcome))


def measured(rollups: Rollups, milestone: str, elapsed_us: int, at: datetime, days: Days) -> None:
    """A first response or resolution's business time, in the duration histogram."""
    bucket = bucket_of(elapsed_us / 1_000_000)
    rollups.add((days(at), f"duration.{milestone}", str(bucket), ""), 1, elapsed_us)


def fact(
    rollups: Rollups, at: datetime, days: Days, metric: str, key: str = "", sub: str = ""
) -> None:
    """One event of a kind (resolved, reopened, a root cause, a revisit outcome) on its day."""
    rollups.add((days(at), metric, key, sub))
