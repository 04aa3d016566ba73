"""The loaded policy set, policy selection, and the per-case snapshot frozen at case_opened."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from casegold_sla.calendar import Calendar, zone
from casegold_sla.contact import next_contact_time, usable_timezone
from casegold_sla.instants import DAY_US, from_us, to_us
from casegold_sla.keywords import matching_keywords
from casegold_sla.ladder import Ladder
from casegold_sla.recipients import RecipientBook
from casegold_sla.rules import STEP_TIERS, MilestoneRule, StepRule

CASE_MILESTONES: Final = ("first_response", "solution_agreed", "resolution")
REVISIT: Final = "revisit"
DEALER_MILESTONES: Final = ("dealer_first_response", "dealer_solution_agreed", "dealer_resolution")
IMMEDIATE_KINDS: Final = ("sensitive", "repeat_complainant", "reopened", "broken_promise")
PRIORITIES: Final = ("P1", "P2", "P3", "P4")
PROMISE: Final = "promise"
_PROMISE_PREFIX: Final = PROMISE + ":"


def promise_milestone(promise_id: str) -> str:
    """The name of the milestone that watches a callback promise."""
    return _PROMISE_PREFIX + promise_id


def promise_of(milestone: str) -> str | None:
    """The promise id a milestone watches, or None when it watches no promise."""
    return milestone[len(_PROMISE_PREFIX) :] if milestone.startswith(_PROMISE_PREFIX) else None


# A milestone's targets per priority, in microseconds of business time.
Targets = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class Match:
    """A policy's match rule: every given field must match; None matches anything."""

    priorities: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    dealers: frozenset[str] | None = None
    sensitive: bool | None = None

    def matches(
        self, *, priority: str, category: str, channel: str, dealer_id: str | None, sensitive: bool
    ) -> bool:
        """Whether a case with these fields matches the rule."""
        return (
            (self.priorities is None or priority in self.priorities)
            and (self.categories is None or category in self.categories)
            and (self.channels is None or channel in self.channels)
            and (self.dealers is None or dealer_id in self.dealers)
            and (self.sensitive is None or sensitive == self.sensitive)
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """One named policy: its calendar, ladders and targets."""

    name: str
    match: Match | None
    calendar: Calendar
    ladder: Ladder
    targets: Targets
    milestone_ladders: Mapping[str, Ladder] = field(default_factory=dict)

    def ladder_for(self, milestone: str) -> Ladder:
        """The ladder a milestone climbs under this policy."""
        return self.milestone_ladders.get(milestone, self.ladder)


@dataclass(frozen=True, slots=True)
class DealerMilestones:
    """The dealer's own milestones (seed 003), started by case_handed_to_dealer."""

    ladder: Ladder
    targets: Targets


@dataclass(frozen=True, slots=True)
class ImmediateStep:
    """An event-driven escalation: which step fires at once, and to whom."""

    step: str
    audience: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SpecialPeriod:
    """A sensitive period: yearly `MM-DD` bounds or dated bounds, inclusive, in a timezone."""

    name: str
    timezone: str
    target_factor: float
    ladder_start_tier: int
    yearly: tuple[tuple[int, int], tuple[int, int]] | None = None
    dated: tuple[date, date] | None = None

    def contains(self, instant: int) -> bool:
        """Whether the instant's local date (in the period's zone) falls in the period."""
        day = from_us(instant).astimezone(zone(self.timezone)).date()
        if self.dated is not None:
            return self.dated[0] <= day <= self.dated[1]
        assert self.yearly is not None
        first, last = self.yearly
        month_day = (day.month, day.day)
        if first <= last:
            return first <= month_day <= last
        # A range such as 12-20..01-05 wraps over the new year.
        return month_day >= first or month_day <= last


# A case a customer opened: (case id, opened at in epoch microseconds).
CustomerCaseOpened = tuple[str, int]


@dataclass(frozen=True, slots=True)
class CustomerTally:
    """A customer's cases after counting one more: whether they repeat, and what to keep."""

    # The customer's earlier cases inside the window of the case just counted.
    prior: tuple[CustomerCaseOpened, ...]
    repeat: bool
    # What to remember for the next count, by opened time (bounded: older cases fall off).
    kept: tuple[CustomerCaseOpened, ...]
    # Every case that repeats because of this count, with its earlier cases in its window:
    # the case counted, or cases opened after it that reached the tally first (they arrive
    # from different partitions, so not in opened order).
    repeats: tuple[tuple[CustomerCaseOpened, tuple[CustomerCaseOpened, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class RepeatRule:
    """A customer with at least `cases` cases (this one included) within `within` repeats."""

    cases: int
    within: int

    @property
    def window_days(self) -> int:
        """The window in whole days, at least one (as notices state it)."""
        return max(1, self.within // DAY_US)

    def is_repeat(self, prior_opened_at: Iterable[datetime], opened_at: datetime) -> bool:
        """Whether a case opened at `opened_at` makes its customer a repeat complainant."""
        now = to_us(opened_at)
        recent = sum(1 for prior in prior_opened_at if 0 <= now - to_us(prior) <= self.within)
        return recent + 1 >= self.cases

    def tally(
        self, known: Iterable[CustomerCaseOpened], case: CustomerCaseOpened
    ) -> CustomerTally | None:
        """Count a customer's case among the ones known; None when it was counted already."""
        case_id, opened = case
        remembered = tuple(known)
        if any(known_id == case_id for known_id, _ in remembered):
            return None
        every = sorted((*remembered, case), key=_opened_order)
        prior = self._prior(every, case)
        repeat = len(prior) + 1 >= self.cases
        repeats = [(case, prior)] if repeat else []
        for later in every:
            if _opened_order(later) <= _opened_order(case) or later[1] - opened > self.within:
                continue
            with_case = self._prior(every, later)
            # It repeats now, and did not before this case was counted.
            if len(with_case) + 1 >= self.cases > len(with_case):
                repeats.append((later, with_case))
        # Two windows back from the newest: a case that arrives late (from a lagging
        # partition) still finds the earlier cases of its own window.
        newest = every[-1][1]
        kept = tuple(c for c in every if newest - c[1] <= 2 * self.within)
        return CustomerTally(prior, repeat, kept[-max(self.cases * 4, 16) :], tuple(repeats))

    def _prior(
        self, every: list[CustomerCaseOpened], case: CustomerCaseOpened
    ) -> tuple[CustomerCaseOpened, ...]:
        """The cases opened before `case` within its window, in opened order (ties by id)."""
        first = _opened_order(case)
        return tuple(c for c in every if _opened_order(c) < first and case[1] - c[1] <= self.within)


def _opened_order(case: CustomerCaseOpened) -> tuple[int, str]:
    # Cases opened at the same instant are ordered by id, so every arrival order agrees.
    case_id, opened = case
    return opened, case_id


@dataclass(frozen=True, slots=True)
class FollowUpSettings:
    """Revisit and callback settings for the follow-up service (SPEC §4)."""

    revisit_delay: int
    contact_window: tuple[int, int]
    holidays: frozenset[date]
    default_timezone: str
    callback_lead_time: int
    callback_lease: int
    unreachable_attempts: int
    unreachable_retry_interval: int

    def revisit_at(self, resolved_at: datetime, customer_timezone: str | None) -> datetime:
        """When to call the customer back after resolution: delay, then into the window."""
        return self.contact_time(
            from_us(to_us(resolved_at) + self.revisit_delay), customer_timezone
        )

    def contact_time(self, instant: datetime, customer_timezone: str | None) -> datetime:
        """The instant moved into the customer's contact window (home zone if none is known)."""
        tz = usable_timezone(customer_timezone, self.default_timezone)
        return next_contact_time(self.contact_window, tz, self.holidays, instant)


class CasePolicy:
    """The policy frozen into a case at case_opened: shared by every case with the same inputs."""

    # Immutable; rules are resolved lazily and cached, so a million cases hold one pointer
    # each, and `milestone_cache` interns the milestone records cases share (decision 0015).
    __slots__ = ("_rules", "milestone_cache", "name", "period", "policy", "sensitive", "set")

    def __init__(
        self, policy_set: "PolicySet", policy: Policy, period: SpecialPeriod | None, sensitive: bool
    ) -> None:
        self.set = policy_set
        self.policy = policy
        self.name = policy.name
        self.period = period
        self.sensitive = sensitive
        self._rules: dict[tuple[str, str], MilestoneRule | None] = {}
        self.milestone_cache: dict[tuple[object, ...], Any] = {}

    @property
    def calendar(self) -> Calendar:
        """The calendar every business-time clock of the case counts on."""
        return self.policy.calendar

    @property
    def version(self) -> str:
        """The version of the policy file the case was opened under."""
        return self.set.version

    def __repr__(self) -> str:
        period = self.period.name if self.period else None
        return f"CasePolicy({self.name!r}, version={self.version!r}, period={period!r})"

    def rule(self, kind: str, qualifier: str) -> MilestoneRule | None:
        """The rule of a milestone kind (qualified by priority or promise id), None if unset."""
        if kind == PROMISE:
            # One rule per promise: its milestone is named after the promise id.
            return self._immediate_rule(promise_milestone(qualifier), "broken_promise", qualifier)
        key = (kind, qualifier)
        if key not in self._rules:
            self._rules[key] = self._build(kind, qualifier)
        return self._rules[key]

    def _build(self, kind: str, qualifier: str) -> MilestoneRule | None:
        if kind in IMMEDIATE_KINDS:
            return self._immediate_rule(kind, kind, qualifier)
        if kind in DEALER_MILESTONES:
            dealer = self.set.dealer
            if dealer is None:
                return None
            return self._targeted(kind, qualifier, dealer.targets, dealer.ladder)
        targets = self.policy.targets
        return self._targeted(kind, qualifier, targets, self.policy.ladder_for(kind))

    def _targeted(
        self, kind: str, priority: str, targets: Targets, ladder: Ladder
    ) -> MilestoneRule | None:
        if kind not in targets:
            return None
        factor = self.period.target_factor if self.period else 1.0
        start_tier = self.period.ladder_start_tier if self.period else 0
        target = round(targets[kind][priority] * factor)
        steps = ladder.resolve(target, sensitive=self.sensitive, start_tier=start_tier)
        return MilestoneRule(kind, kind, priority, target, steps)

    def _immediate_rule(self, name: str, reason: str, qualifier: str) -> MilestoneRule:
        immediate = self.set.immediate[reason]
        step = StepRule(immediate.step, STEP_TIERS[immediate.step], 0, immediate.audience, reason)
        if reason == "broken_promise":
            # A promise stays on the case until kept, even once broken.
            return MilestoneRule(name, PROMISE, qualifier, 0, (step,), wall_clock=True)
        return MilestoneRule(name, reason, qualifier, 0, (step,), wall_clock=True, ephemeral=True)


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """The optional `reports` section: report days' zone and the outlier thresholds."""

    timezone: str = "UTC"
    # A dealer is flagged when its case count's z-score among dealers reaches this.
    dealer_flag_z: float = 2.0
    # An agent is flagged when its open load is at least this many times the team's mean.
    agent_load_factor: float = 1.5


@dataclass(slots=True, eq=False)
class PolicySet:
    """Everything one policy file says, compiled; `version` identifies the file's content."""

    version: str
    source: str
    calendars: Mapping[str, Calendar]
    policies: tuple[Policy, ...]
    default: Policy
    immediate: Mapping[str, ImmediateStep]
    repeat_rule: RepeatRule
    follow_up: FollowUpSettings
    sensitive_keywords: tuple[str, ...] = ()
    special_periods: tuple[SpecialPeriod, ...] = ()
    dealer: DealerMilestones | None = None
    priority_rules: tuple[tuple[Match, str], ...] = ()
    fallback_priority: str = "P3"
    # Who the notifier tells, per audience (the optional `recipients` section).
    recipients: RecipientBook = field(default_factory=RecipientBook)
    reports: ReportSettings = field(default_factory=ReportSettings)
    _frozen: dict[tuple[str, str | None, bool], CasePolicy] = field(default_factory=dict)

    def select(
        self, *, priority: str, category: str, channel: str, dealer_id: str | None, sensitive: bool
    ) -> Policy:
        """The first policy whose match rule matches, else the default policy."""
        for policy in self.policies:
            if policy.match is not None and policy.match.matches(
                priority=priority,
                category=category,
                channel=channel,
                dealer_id=dealer_id,
                sensitive=sensitive,
            ):
                return policy
        return self.default

    def default_priority(
        self, *, category: str, channel: str, dealer_id: str | None, sensitive: bool
    ) -> str:
        """The priority of a case that came without one: first matching rule, else the default."""
        for match, priority in self.priority_rules:
            if match.matches(
                priority="",
                category=category,
                channel=channel,
                dealer_id=dealer_id,
                sensitive=sensitive,
            ):
                return priority
        return self.fallback_priority

    def special_period_at(self, instant: int) -> SpecialPeriod | None:
        """The first special period containing the instant, if any."""
        return next((period for period in self.special_periods if period.contains(instant)), None)

    def freeze(
        self,
        *,
        priority: str,
        category: str,
        channel: str,
        dealer_id: str | None,
        sensitive: bool,
        opened_at: int,
    ) -> CasePolicy:
        """Select the policy and special period for a new case and return its frozen snapshot."""
        policy = self.select(
            priority=priority,
            category=category,
            channel=channel,
            dealer_id=dealer_id,
            sensitive=sensitive,
        )
        period = self.special_period_at(opened_at)
        return self.snapshot(policy.name, period.name if period else None, sensitive)

    def snapshot(self, policy_name: str, period_name: str | None, sensitive: bool) -> CasePolicy:
        """The shared snapshot for a policy, special period and sensitivity (used on restore)."""
        key = (policy_name, period_name, sensitive)
        if key not in self._frozen:
            policy = next(p for p in (*self.policies, self.default) if p.name == policy_name)
            period = (
                next(p for p in self.special_periods if p.name == period_name)
                if (period_name)
                else None
            )
            self._frozen[key] = CasePolicy(self, policy, period, sensitive)
        return self._frozen[key]

    def sensitive_reasons(self, *texts: str | None) -> tuple[str, ...]:
        """The configured sensitive keywords found in the texts (see `keywords` for the rules)."""
        return matching_keywords(self.sensitive_keywords, texts)


class PolicyRegistry:
    """Policy sets by version, so cases restored from a changelog find their frozen policy."""

    __slots__ = ("_sets", "current")

    def __init__(self, current: PolicySet) -> None:
        self.current = current
        self._sets = {current.version: current}

    def add(self, policy_set: PolicySet, *, make_current: bool = False) -> None:
        """Remember a policy set; optionally make it the one new cases are opened under."""
        self._sets.setdefault(policy_set.version, policy_set)
        if make_current:
            self.current = self._sets[policy_set.version]

    def get(self, version: str) -> PolicySet:
        """The policy set of a version; KeyError if it was never added."""
        return self._sets[version]
