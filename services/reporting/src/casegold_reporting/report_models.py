"""Response bodies of the reports (the OpenAPI schema of /v1/reports and the weekly CSV)."""

from __future__ import annotations

from datetime import date, datetime

from casegold_reporting.models import View
from casegold_reporting.report_math import Direction


class Period(View):
    """Calendar days, both inclusive, in the reports' zone."""

    first: date
    last: date
    days: int
    timezone: str


class Compliance(View):
    """Clocks of a milestone that ended in the period: in time or late."""

    milestone: str
    met: int
    breached: int
    percent: float | None


class Durations(View):
    """Business time a milestone took, for those met or missed in the period."""

    measured: int
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None


class Escalations(View):
    """Steps fired in the period (a step told to several audiences counts once)."""

    total: int
    by_tier: dict[str, int]
    by_reason: dict[str, int]


class Reopens(View):
    """Resolutions and reopens in the period."""

    resolved: int
    reopened: int
    rate_percent: float | None


class Revisits(View):
    """Revisit outcomes recorded in the period, and the satisfaction scores given."""

    outcomes: dict[str, int]
    scored: int
    mean_score: float | None
    distribution: dict[str, int]


class RootCause(View):
    """A root-cause category of the period's resolutions, against the previous period."""

    category: str
    cases: int
    share_percent: float
    previous_cases: int
    previous_share_percent: float
    trend: Direction


class Summary(View):
    """GET /v1/reports/summary."""

    period: Period
    previous: Period
    opened: int
    by_category: dict[str, int]
    by_channel: dict[str, int]
    by_priority: dict[str, int]
    compliance: list[Compliance]
    first_response: Durations
    resolution: Durations
    escalations: Escalations
    reopens: Reopens
    revisits: Revisits
    root_causes: list[RootCause]


class DealerLine(View):
    """One dealer's cases in the period against the other dealers', and its own clocks."""

    dealer_id: str
    cases: int
    rate_vs_mean: float
    z_score: float
    flagged: bool
    compliance: list[Compliance]


class Dealers(View):
    """GET /v1/reports/dealers: dealers with cases in the period, most cases first."""

    period: Period
    dealers_counted: int
    mean_cases: float
    deviation: float
    flag_z: float
    dealers: list[DealerLine]


class AgentLine(View):
    """One owner's load: open cases, of them overdue, sensitive and escalated; reopen rate."""

    owner: str
    open: int
    overdue: int
    sensitive_open: int
    escalated_open: int
    cases: int
    resolved: int
    reopened: int
    reopen_rate_percent: float | None
    load_vs_mean: float
    flagged: bool


class Agents(View):
    """GET /v1/reports/agents, as of `as_of`: heaviest open load first."""

    as_of: datetime
    team_mean_open: float
    flag_factor: float
    agents: list[AgentLine]


class DayVolume(View):
    """Cases opened on one day in one category."""

    day: date
    category: str
    cases: int


class Weekly(View):
    """The weekly manager report."""

    week: str
    summary: Summary
    volume: list[DayVolume]
    dealers: Dealers
    agents: Agents
