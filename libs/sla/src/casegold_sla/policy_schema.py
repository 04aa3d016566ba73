"""The policy file's shape, validated by pydantic; values arrive already parsed."""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from casegold_sla.calendar import WEEKDAYS, CalendarError, check_weekly, parse_hours, zone
from casegold_sla.durations import parse_duration
from casegold_sla.ladder import StepOffset, parse_at
from casegold_sla.policy import PRIORITIES

StepName = Literal["warning", "tier_1", "tier_2", "tier_3"]
AudienceName = Literal[
    "owner", "team_lead", "department_manager", "director", "pr_legal", "dealer_management"
]
PriorityName = Literal["P1", "P2", "P3", "P4"]
ChannelName = Literal["ivr", "phone", "web", "email", "social", "letter", "walk_in"]


def _duration(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: write it as text such as 30s, 15m, 12h or 5d")
    return parse_duration(value)


def _positive_duration(value: Any) -> int:
    # A zero target breaches at once; a zero repeat interval would remind without end.
    duration = _duration(value)
    if duration <= 0:
        raise ValueError(f"{value} must be longer than 0s")
    return duration


def _hours(value: Any) -> tuple[int, int]:
    if not isinstance(value, str):
        raise ValueError(f"bad opening hours {value!r}: expected HH:MM-HH:MM, e.g. 09:00-18:00")
    return parse_hours(value)


def _listed(value: Any) -> Any:
    # A single value where a list is expected reads as a list of one.
    return [value] if isinstance(value, str | bool | int) else value


def _targets(value: Any) -> dict[str, int]:
    if isinstance(value, str):
        return dict.fromkeys(PRIORITIES, _positive_duration(value))
    if not isinstance(value, dict):
        raise ValueError("a target is one duration or a duration per priority (P1 … P4)")
    unknown = sorted(set(value) - set(PRIORITIES), key=str)
    if unknown:
        raise ValueError(f"unknown priority {unknown[0]!r}: expected P1, P2, P3 or P4")
    missing = [priority for priority in PRIORITIES if priority not in value]
    if missing:
        raise ValueError(f"missing target for {', '.join(missing)}")
    targets = {}
    for priority in PRIORITIES:
        try:
            targets[priority] = _positive_duration(value[priority])
        except ValueError as error:
            raise ValueError(f"{priority}: {error}") from None
    return targets


def _keyword(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"keyword {value!r} must be quoted: YAML reads it as a number")
    if not value.strip():
        raise ValueError("empty keyword")
    return value


def _month_day(value: Any) -> tuple[int, int]:
    text = str(value)
    try:
        month, day = (int(part) for part in text.split("-"))
        date(2024, month, day)  # a leap year, so 02-29 is a valid yearly bound
    except ValueError:
        raise ValueError(f"bad month-day {text!r}: expected MM-DD, e.g. 03-15") from None
    return month, day


Duration = Annotated[int, BeforeValidator(_duration)]
PositiveDuration = Annotated[int, BeforeValidator(_positive_duration)]
Hours = Annotated[tuple[int, int], BeforeValidator(_hours)]
Target = Annotated[dict[str, int], BeforeValidator(_targets)]
MonthDay = Annotated[tuple[int, int], BeforeValidator(_month_day)]
Audiences = Annotated[list[AudienceName], BeforeValidator(_listed), Field(min_length=1)]


class Spec(BaseModel):
    """Base of the file's sections: unknown keys are errors (they are usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WeeklyHoursSpec(Spec):
    """Opening hours per weekday; a day not listed is closed."""

    mon: list[Hours] = []
    tue: list[Hours] = []
    wed: list[Hours] = []
    thu: list[Hours] = []
    fri: list[Hours] = []
    sat: list[Hours] = []
    sun: list[Hours] = []

    @model_validator(mode="before")
    @classmethod
    def _known_weekdays(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in WEEKDAYS:
                    raise ValueError(f"unknown weekday {key!r}: expected {', '.join(WEEKDAYS)}")
        return data

    @model_validator(mode="after")
    def _no_overlaps(self) -> "WeeklyHoursSpec":
        try:
            check_weekly(self.weekly())
        except CalendarError as error:
            raise ValueError(str(error)) from None
        return self

    def weekly(self) -> list[list[tuple[int, int]]]:
        """The hours as seven lists, Monday first."""
        return [list(getattr(self, day)) for day in WEEKDAYS]


class CalendarSpec(Spec):
    """A business calendar, or `always_open: true` for a 24x7 calendar."""

    always_open: bool = False
    timezone: str | None = None
    hours: WeeklyHoursSpec | None = None
    holidays: list[date] = []
    working_days: dict[date, Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except CalendarError as error:
                raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _complete(self) -> "CalendarSpec":
        if self.always_open:
            if self.hours is not None or self.holidays or self.working_days:
                raise ValueError("an always_open calendar takes no hours, holidays or working_days")
            return self
        if self.timezone is None or self.hours is None:
            raise ValueError("a business calendar needs a timezone and hours (or always_open)")
        if not any(self.hours.weekly()):
            raise ValueError("a business calendar needs opening hours on at least one weekday")
        return self


class StepSpec(Spec):
    """One ladder step."""

    step: StepName
    at: Annotated[StepOffset, BeforeValidator(lambda value: parse_at(str(value)))]
    min: Duration | None = None
    audience: Audiences
    when_sensitive: Annotated[list[AudienceName], BeforeValidator(_listed)] = []
    repeat_every: PositiveDuration | None = None
    max_repeats: int | None = Field(default=None, ge=1)


class LadderSpec(Spec):
    """An ordered list of steps, each step name at most once."""

    steps: list[StepSpec] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, steps: list[StepSpec]) -> list[StepSpec]:
        names = [step.step for step in steps]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"step {repeated[0]} appears twice (escalation ids must be unique)")
        return steps


class TargetsSpec(Spec):
    """Milestone targets of a policy: one duration, or one per priority."""

    first_response: Target
    solution_agreed: Target
    resolution: Target
    revisit: Target | None = None


class MatchSpec(Spec):
    """A policy's match rule; every given key must match, a list matches any of its values."""

    priority: Annotated[list[PriorityName], BeforeValidator(_listed)] | None = None
    category: Annotated[list[str], BeforeValidator(_listed)] | None = None
    channel: Annotated[list[ChannelName], BeforeValidator(_listed)] | None = None
    dealer: Annotated[list[str], BeforeValidator(_listed)] | None = None
    sensitive: bool | None = None


class PriorityRuleSpec(Spec):
    """A default-priority rule: cases matching `match` get `priority` when intake has none."""

    match: MatchSpec
    priority: PriorityName

    @field_validator("match")
    @classmethod
    def _no_priority(cls, match: MatchSpec) -> MatchSpec:
        if match.priority is not None:
            raise ValueError("a default-priority rule cannot match on priority")
        return match


class PolicySpec(Spec):
    """One policy."""

    name: str = Field(min_length=1)
    match: MatchSpec | None = None
    calendar: str = "24x7"
    ladder: str
    milestone_ladders: dict[str, str] = {}
    targets: TargetsSpec


class DealerTargetsSpec(Spec):
    """Targets of the dealer's milestones."""

    dealer_first_response: Target
    dealer_solution_agreed: Target
    dealer_resolution: Target


class DealerSpec(Spec):
    """Dealer milestones (seed 003)."""

    ladder: str
    targets: DealerTargetsSpec


class ImmediateStepSpec(Spec):
    """Which step an event-driven escalation fires at once, and to whom."""

    step: StepName
    audience: Audiences


class ImmediateSpec(Spec):
    """Event-driven escalations."""

    sensitive: ImmediateStepSpec
    repeat_complainant: ImmediateStepSpec
    reopened: ImmediateStepSpec
    broken_promise: ImmediateStepSpec


class YearlySpec(Spec):
    """Yearly inclusive bounds `MM-DD`."""

    start: MonthDay = Field(alias="from")
    end: MonthDay = Field(alias="to")


class DatedSpec(Spec):
    """Dated inclusive bounds."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> "DatedSpec":
        if self.end < self.start:
            raise ValueError("the period ends before it starts")
        return self


class SpecialPeriodSpec(Spec):
    """A special period: faster targets and a ladder that starts higher."""

    name: str = Field(min_length=1)
    yearly: YearlySpec | None = None
    dates: DatedSpec | None = None
    timezone: str | None = None
    target_factor: float = Field(gt=0, le=10)
    ladder_start_tier: int = Field(default=0, ge=0, le=3)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except CalendarError as error:
                raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _one_range(self) -> "SpecialPeriodSpec":
        if (self.yearly is None) == (self.dates is None):
            raise ValueError("a special period needs exactly one of yearly or dates")
        return self


class RepeatSpec(Spec):
    """Repeat-complainant rule."""

    cases: int = Field(ge=2)
    within: PositiveDuration


class FollowUpSpec(Spec):
    """Revisits and promised callbacks (SPEC §4)."""

    revisit_delay: Duration
    contact_window: Hours
    holidays_from: str | None = None
    holidays: list[date] = []
    callback_lead_time: Duration
    callback_lease: PositiveDuration
    unreachable_attempts: int = Field(ge=1)
    unreachable_retry_interval: PositiveDuration


class ReportsSpec(Spec):
    """How reports flag outliers and which days they count in (all optional)."""

    timezone: str | None = None
    dealer_flag_z: float = Field(default=2.0, gt=0, le=10)
    agent_load_factor: float = Field(default=1.5, gt=1, le=10)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except CalendarError as error:
                raise ValueError(str(error)) from None
        return value


class PolicyFileSpec(Spec):
    """The whole policy file."""

    version: Literal[1] = 1
    timezone: str
    calendars: dict[str, CalendarSpec] = {}
    ladders: dict[str, LadderSpec] = Field(min_length=1)
    policies: list[PolicySpec] = Field(min_length=1)
    default_policy: str
    priority_rules: list[PriorityRuleSpec] = []
    default_priority: PriorityName = "P3"
    dealer_milestones: DealerSpec | None = None
    immediate: ImmediateSpec
    special_periods: list[SpecialPeriodSpec] = []
    reports: ReportsSpec = ReportsSpec()

    @field_validator("special_periods")
    @classmethod
    def _unique_periods(cls, periods: list[SpecialPeriodSpec]) -> list[SpecialPeriodSpec]:
        names = [period.name for period in periods]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"special period {repeated[0]!r} is defined twice")
        return periods

    sensitive_keywords: list[Annotated[str, BeforeValidator(_keyword)]] = []
    repeat_complainant: RepeatSpec
    follow_up: FollowUpSpec

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except CalendarError as error:
            raise ValueError(str(error)) from None
        return value
