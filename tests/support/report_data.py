"""A crafted fortnight of cases for the report tests, and its answers computed here by hand.

Office hours Monday to Friday 09:00-17:00 UTC; week 2025-W10 (3-9 March) is the reported one,
2025-W09 holds the previous period's resolutions (for the root-cause trend). Business seconds
are counted by `office_seconds` below, independently of the SLA core.
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from casegold_contracts import Event
from casegold_contracts.builders import make_escalation_raised, make_event
from tests.support.reporting import OFFICE_POLICY

MONDAY: Final = datetime(2025, 3, 3, tzinfo=UTC)
WEEK: Final = "2025-W10"
NOW: Final = datetime(2025, 3, 10, 12, tzinfo=UTC)  # Monday of the next week
FIRST_RESPONSE: Final = {"P1": 3600, "P2": 7200, "P3": 4 * 3600, "P4": 8 * 3600}
RESOLUTION: Final = {"P1": 8 * 3600, "P2": 16 * 3600, "P3": 16 * 3600, "P4": 16 * 3600}
DEALER_REPLY: Final = 12 * 3600
# Resolution targets short enough that some of the crafted resolutions are late.
REPORT_POLICY: Final = OFFICE_POLICY.replace(
    "resolution: {P1: 24h, P2: 40h, P3: 40h, P4: 40h}",
    "resolution: {P1: 8h, P2: 16h, P3: 16h, P4: 16h}",
).replace(
    "special_periods: []",
    "special_periods: []\n"
    "dealer_milestones:\n"
    "  ladder: standard\n"
    "  targets: {dealer_first_response: 12h, dealer_solution_agreed: 40h, "
    "dealer_resolution: 120h}",
)
ROOT_CAUSES: Final = ("product", "process", "dealer", "product", "training")


def office_seconds(start: datetime, end: datetime) -> float:
    """Business seconds between two instants on Monday-Friday 09:00-17:00 UTC."""
    total = 0.0
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= end:
        if day.weekday() < 5:
            opens, closes = day + timedelta(hours=9), day + timedelta(hours=17)
            overlap = (min(end, closes) - max(start, opens)).total_seconds()
            total += max(0.0, overlap)
        day += timedelta(days=1)
    return total


def nearest_rank(values: list[float], fraction: float) -> float:
    """The ⌈fraction·n⌉-th smallest value."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@dataclass
class Expected:
    """What the reports must say about the crafted data, computed from the events."""

    opened: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    by_priority: Counter[str] = field(default_factory=Counter)
    volume: Counter[tuple[str, str]] = field(default_factory=Counter)
    first_response: list[tuple[float, bool]] = field(default_factory=list)
    resolution: list[tuple[float, bool]] = field(default_factory=list)
    root_causes: Counter[str] = field(default_factory=Counter)
    previous_root_causes: Counter[str] = field(default_factory=Counter)
    reopened: int = 0
    scores: list[int] = field(default_factory=list)
    dealer_cases: Counter[str] = field(default_factory=Counter)
    dealer_replies: dict[str, list[bool]] = field(default_factory=dict)
    owners: dict[uuid.UUID, str] = field(default_factory=dict)
    open_cases: set[uuid.UUID] = field(default_factory=set)
    sensitive: set[uuid.UUID] = field(default_factory=set)
    escalated: set[uuid.UUID] = field(default_factory=set)
    reopened_cases: set[uuid.UUID] = field(default_factory=set)
    resolved_cases: set[uuid.UUID] = field(default_factory=set)
    escalation_tiers: Counter[str] = field(default_factory=Counter)
    escalation_reasons: Counter[str] = field(default_factory=Counter)

    def dealer_z(self) -> dict[str, float]:
        counts = list(self.dealer_cases.values())
        mean, deviation = statistics.fmean(counts), statistics.pstdev(counts)
        return {dealer: (n - mean) / deviation for dealer, n in self.dealer_cases.items()}


def _case(number: int) -> uuid.UUID:
    return uuid.UUID(int=(0xCA5E << 96) | number)


def crafted() -> tuple[list[Event], list[Event], Expected]:
    """Case events and escalations in topic order, and the answers."""
    events: list[Event] = []
    expected = Expected()
    resolved = [n for n in range(12, 30) if n % 3 != 2]
    for n in range(30):
        events += _lifecycle(n, n in resolved, expected)
    for n in range(4):  # the previous week: resolutions for the root-cause trend
        case_id, opened = _case(100 + n), MONDAY - timedelta(days=7) + timedelta(hours=10)
        cause = ("process", "process", "product", "training")[n]
        events += [
            make_event("case_opened", case_id=case_id, at=opened, category="billing"),
            make_event("case_acknowledged", case_id=case_id, at=opened + timedelta(minutes=5)),
            make_event(
                "case_resolved", case_id=case_id, at=opened + timedelta(days=1),
                root_cause={"category": cause, "text": "found by 5-why"},
            ),
        ]  # fmt: skip
        expected.previous_root_causes[cause] += 1
    return events, _escalations(expected), expected


def _lifecycle(n: int, resolves: bool, expected: Expected) -> list[Event]:
    case_id = _case(n)
    day = n % 5
    opened = MONDAY + timedelta(days=day, hours=9 + n % 4, minutes=(n * 7) % 60)
    priority = ("P1", "P2", "P3", "P4")[n % 4]
    category = ("product", "billing", "delivery")[n % 3]
    channel = ("ivr", "web", "phone")[(n // 2) % 3]
    dealer = "dealer-G" if n < 6 else (f"dealer-{'ABCDEF'[n - 6]}" if n < 12 else None)
    owner = "agent-heavy" if n % 2 == 0 else f"agent-{n % 5}"
    fields: dict[str, Any] = dict(priority=priority, category=category, channel=channel,
                                  dealer_id=dealer)  # fmt: skip
    if n == 2:
        fields.update(sensitive=True, sensitive_reasons=["journalist"])
        expected.sensitive.add(case_id)
    story: list[Event] = [
        make_event("case_opened", case_id=case_id, at=opened, **fields),
        make_event("case_assigned", case_id=case_id, at=opened + timedelta(minutes=1), owner=owner),
    ]
    expected.owners[case_id] = owner
    expected.open_cases.add(case_id)
    for name, counter in (("category", expected.by_category), ("channel", expected.by_channel),
                          ("priority", expected.by_priority)):  # fmt: skip
        counter[fields[name]] += 1
    expected.opened["all"] += 1
    expected.volume[(opened.date().isoformat(), category)] += 1
    if dealer is not None:
        expected.dealer_cases[dealer] += 1
    acknowledged = opened + timedelta(minutes=(20, 50, 90, 150, 200, 300, 30, 10)[n % 8])
    story.append(make_event("case_acknowledged", case_id=case_id, at=acknowledged))
    seconds = office_seconds(opened, acknowledged)
    expected.first_response.append((seconds, seconds <= FIRST_RESPONSE[priority]))
    if dealer == "dealer-G":
        handed = acknowledged + timedelta(minutes=30)
        replied = handed + (timedelta(hours=1) if n % 2 == 0 else timedelta(days=2))
        story += [
            make_event("case_handed_to_dealer", case_id=case_id, at=handed, dealer_id=dealer),
            make_event("dealer_responded", case_id=case_id, at=replied),
        ]
        met = office_seconds(handed, replied) <= DEALER_REPLY
        expected.dealer_replies.setdefault(dealer, []).append(met)
    if not resolves:
        return story
    contacted = acknowledged + timedelta(minutes=10)
    agreed = contacted + timedelta(hours=1)
    story += [
        make_event("customer_contacted", case_id=case_id, at=contacted),
        make_event("solution_agreed", case_id=case_id, at=agreed),
    ]
    paused = 0.0
    last = agreed
    if n % 4 == 1:  # waits on the customer overnight: the pause is not business time
        awaited, resumed = agreed + timedelta(hours=1), agreed + timedelta(hours=21)
        story += [
            make_event("customer_awaited", case_id=case_id, at=awaited),
            make_event("case_resumed", case_id=case_id, at=resumed),
        ]
        paused, last = office_seconds(awaited, resumed), resumed
    resolved_at = last + timedelta(days=2 if n % 6 == 0 else 0, hours=1)  # some take longer
    cause = ROOT_CAUSES[n % 5]
    story.append(
        make_event(
            "case_resolved", case_id=case_id, at=resolved_at,
            root_cause={"category": cause, "text": "found by 5-why"},
        )
    )  # fmt: skip
    expected.root_causes[cause] += 1
    expected.resolved_cases.add(case_id)
    seconds = office_seconds(opened, resolved_at) - paused
    expected.resolution.append((seconds, seconds <= RESOLUTION[priority]))
    if n % 4 == 0:  # the revisit satisfied the customer; follow-up closes the case
        score = (5, 4, 3)[n % 3]
        story += [
            make_event("revisit_outcome_recorded", case_id=case_id,
                       at=resolved_at + timedelta(hours=1), outcome="satisfied", score=score),
            make_event("case_closed", case_id=case_id, at=resolved_at + timedelta(minutes=61)),
        ]  # fmt: skip
        expected.scores.append(score)
        expected.open_cases.discard(case_id)
    if n % 5 == 3:
        story.append(
            make_event("case_reopened", case_id=case_id, at=resolved_at + timedelta(hours=2))
        )
        expected.reopened += 1
        expected.reopened_cases.add(case_id)
        expected.open_cases.add(case_id)
    return story


def _escalations(expected: Expected) -> list[Event]:
    def step(
        n: int, milestone: str, name: str, reason: str, fired: datetime, **extra: Any
    ) -> Event:
        expected.escalated.add(_case(n))
        return make_escalation_raised(
            case_id=_case(n), milestone=milestone, step=name, reason=reason,
            due_at=fired, fired_at=fired, **extra,
        )  # fmt: skip

    tuesday = MONDAY + timedelta(days=1, hours=11)
    breach = step(0, "first_response", "tier_1", "sla_breach", tuesday)
    records = [
        breach,
        breach,  # redelivered
        step(0, "first_response", "tier_1", "sla_breach", tuesday, audience="department_manager"),
        step(1, "first_response", "warning", "sla_warning", tuesday),
        step(2, "sensitive", "tier_2", "sensitive", MONDAY + timedelta(hours=12)),
        step(3, "resolution", "tier_1", "sla_breach", MONDAY + timedelta(days=4, hours=15)),
        step(4, "first_response", "tier_1", "sla_breach", MONDAY - timedelta(days=2)),  # W09
    ]
    expected.escalation_tiers.update({"tier_1": 2, "warning": 1, "tier_2": 1})
    expected.escalation_reasons.update({"sla_breach": 2, "sla_warning": 1, "sensitive": 1})
    return records
