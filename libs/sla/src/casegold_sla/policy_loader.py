"""Load a policy file: YAML → validated shape → compiled PolicySet, or one PolicyError."""

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from casegold_sla.calendar import WEEKDAYS, Calendar
from casegold_sla.ladder import Ladder, LadderStep
from casegold_sla.policy import (
    CASE_MILESTONES,
    REVISIT,
    DealerMilestones,
    FollowUpSettings,
    ImmediateStep,
    Match,
    Policy,
    PolicySet,
    RepeatRule,
    ReportSettings,
    SpecialPeriod,
)
from casegold_sla.policy_schema import (
    CalendarSpec,
    ImmediateStepSpec,
    LadderSpec,
    MatchSpec,
    PolicyFileSpec,
)
from casegold_sla.recipients import RecipientBook
from casegold_sla.recipients_schema import RecipientsFileSpec, compile_recipients

ALWAYS_OPEN: Final = "24x7"
_MAX_PROBLEMS: Final = 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a policy file: where (a path such as `policies[2].targets`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(top level)'}: {self.message}"


class PolicyError(Exception):
    """A policy file that cannot be used; the message names the file, the paths and problems."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [str(problem) for problem in self.problems[:_MAX_PROBLEMS]]
        if len(self.problems) > _MAX_PROBLEMS:
            lines.append(f"… and {len(self.problems) - _MAX_PROBLEMS} more")
        super().__init__(f"invalid policy file {source}:\n  " + "\n  ".join(lines))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys instead of keeping the last one."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if key in result:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        result[key] = loader.construct_object(value_node, deep=True)  # type: ignore[no-untyped-call]
    return result


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_policy(path: str | os.PathLike[str]) -> PolicySet:
    """Load and check a policy file; raise PolicyError on any problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(source, [Problem("", f"cannot read the file: {error}")]) from None
    return load_policy_text(text, source)


def load_policy_text(text: str, source: str = "<policy>", version: str | None = None) -> PolicySet:
    """Load a policy from YAML text; `source` names it in errors. The version is the text's
    hash unless given (a copy published without its recipients keeps the file's version)."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise PolicyError(source, [_yaml_problem(error)]) from None
    if not isinstance(document, dict):
        raise PolicyError(source, [Problem("", "the file must be a YAML mapping")])
    # The optional recipients section is the notifier's; it is checked on its own schema.
    section = {"recipients": document.pop("recipients")} if "recipients" in document else {}
    problems: list[Problem] = []
    spec: PolicyFileSpec | None = None
    recipients = RecipientBook()
    try:
        spec = PolicyFileSpec.model_validate(document)
    except ValidationError as error:
        problems += [_pydantic_problem(e) for e in error.errors()]
    try:
        recipients = _recipients(RecipientsFileSpec.model_validate(section))
    except ValidationError as error:
        problems += [_pydantic_problem(e) for e in error.errors()]
    except PolicyError as error:
        problems += error.problems
    if problems or spec is None:
        raise PolicyError(source, problems)
    version = version or hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    policies = _Compiler(source, version).compile(spec)
    policies.recipients = recipients
    return policies


def without_recipients(text: str) -> str:
    """The policy text without its `recipients:` section (which may hold secrets): what every
    worker needs to load cases frozen under it, and nothing a reader of a topic should see."""
    document = yaml.safe_load(text)
    document.pop("recipients", None)
    return str(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def load_recipients(path: str | os.PathLike[str]) -> RecipientBook:
    """Load a recipients file (a YAML mapping with only `recipients:`); PolicyError if bad."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(source, [Problem("", f"cannot read the file: {error}")]) from None
    return load_recipients_text(text, source)


def load_recipients_text(text: str, source: str = "<recipients>") -> RecipientBook:
    """Load a recipients section from YAML text laid out as in a policy file."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise PolicyError(source, [_yaml_problem(error)]) from None
    if not isinstance(document, dict):
        raise PolicyError(source, [Problem("", "the file must be a YAML mapping")])
    try:
        return _recipients(RecipientsFileSpec.model_validate(document))
    except ValidationError as error:
        raise PolicyError(source, [_pydantic_problem(e) for e in error.errors()]) from None
    except PolicyError as error:
        raise PolicyError(source, error.problems) from None


def _recipients(spec: RecipientsFileSpec) -> RecipientBook:
    book, problems = compile_recipients(spec)
    if problems:
        raise PolicyError("", [Problem(path, message) for path, message in problems])
    return book


def _yaml_problem(error: yaml.YAMLError) -> Problem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return Problem("", f"YAML syntax error at {where}{problem}")


def _pydantic_problem(error: Any) -> Problem:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "missing required key"
    elif message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    return Problem(path, message)


class _Compiler:
    """Turns a validated file into domain objects, checking references between sections."""

    def __init__(self, source: str, version: str) -> None:
        self.source = source
        self.version = version
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def compile(self, spec: PolicyFileSpec) -> PolicySet:
        calendars = {ALWAYS_OPEN: Calendar.always(ALWAYS_OPEN)}
        calendars.update({name: self.calendar(name, cal) for name, cal in spec.calendars.items()})
        ladders = {name: self.ladder(name, ladder) for name, ladder in spec.ladders.items()}
        policies = tuple(
            self.policy(i, spec, calendars, ladders) for i in range(len(spec.policies))
        )
        names = [policy.name for policy in policies]
        for index, name in enumerate(names):
            if name in names[:index]:
                self.fail(f"policies[{index}].name", f"policy name {name!r} is used twice")
        default = next((p for p in policies if p.name == spec.default_policy), None)
        if default is None:
            self.fail(
                "default_policy", f"no policy named {spec.default_policy!r} ({_known(names)})"
            )
        dealer = None
        if spec.dealer_milestones is not None:
            dealer_ladder = self.ladder_ref(
                "dealer_milestones.ladder", spec.dealer_milestones.ladder, ladders
            )
            dealer = DealerMilestones(dealer_ladder, spec.dealer_milestones.targets.model_dump())
        follow_up = self.follow_up(spec, spec.calendars)
        if self.problems or default is None:
            raise PolicyError(self.source, self.problems)
        return PolicySet(
            version=self.version,
            source=self.source,
            calendars=calendars,
            policies=policies,
            default=default,
            immediate={k: self.immediate(v) for k, v in spec.immediate},
            repeat_rule=RepeatRule(spec.repeat_complainant.cases, spec.repeat_complainant.within),
            follow_up=follow_up,
            sensitive_keywords=tuple(spec.sensitive_keywords),
            special_periods=tuple(
                SpecialPeriod(
                    name=period.name,
                    timezone=period.timezone or spec.timezone,
                    target_factor=period.target_factor,
                    ladder_start_tier=period.ladder_start_tier,
                    yearly=(period.yearly.start, period.yearly.end) if period.yearly else None,
                    dated=(period.dates.start, period.dates.end) if period.dates else None,
                )
                for period in spec.special_periods
            ),
            dealer=dealer,
            priority_rules=tuple(
                (_match(rule.match) or Match(), rule.priority) for rule in spec.priority_rules
            ),
            fallback_priority=spec.default_priority,
            reports=ReportSettings(
                timezone=spec.reports.timezone or spec.timezone,
                dealer_flag_z=spec.reports.dealer_flag_z,
                agent_load_factor=spec.reports.agent_load_factor,
            ),
        )

    def calendar(self, name: str, spec: CalendarSpec) -> Calendar:
        if spec.always_open:
            return Calendar.always(name)
        assert spec.timezone is not None and spec.hours is not None  # checked by the schema
        working_days = {day: WEEKDAYS.index(weekday) for day, weekday in spec.working_days.items()}
        return Calendar(name, spec.timezone, spec.hours.weekly(), spec.holidays, working_days)

    def ladder(self, name: str, spec: LadderSpec) -> Ladder:
        steps = tuple(
            LadderStep(
                step=step.step,
                at=step.at,
                audience=tuple(step.audience),
                minimum=step.min,
                when_sensitive=tuple(step.when_sensitive),
                repeat_every=step.repeat_every,
                max_repeats=step.max_repeats,
            )
            for step in spec.steps
        )
        return Ladder(name, steps)

    def ladder_ref(self, path: str, name: str, ladders: Mapping[str, Ladder]) -> Ladder:
        if name not in ladders:
            self.fail(path, f"unknown ladder {name!r} ({_known(ladders)})")
            return Ladder(name, ())
        return ladders[name]

    def policy(
        self,
        index: int,
        spec: PolicyFileSpec,
        calendars: Mapping[str, Calendar],
        ladders: Mapping[str, Ladder],
    ) -> Policy:
        policy = spec.policies[index]
        path = f"policies[{index}]"
        calendar = calendars.get(policy.calendar)
        if calendar is None:
            self.fail(
                f"{path}.calendar", f"unknown calendar {policy.calendar!r} ({_known(calendars)})"
            )
            calendar = calendars[ALWAYS_OPEN]
        milestone_ladders = {}
        for milestone, ladder_name in policy.milestone_ladders.items():
            where = f"{path}.milestone_ladders.{milestone}"
            if milestone not in (*CASE_MILESTONES, REVISIT):
                self.fail(where, f"unknown milestone ({_known((*CASE_MILESTONES, REVISIT))})")
            milestone_ladders[milestone] = self.ladder_ref(where, ladder_name, ladders)
        targets = {
            milestone: target
            for milestone, target in policy.targets.model_dump().items()
            if target is not None
        }
        return Policy(
            name=policy.name,
            match=_match(policy.match),
            calendar=calendar,
            ladder=self.ladder_ref(f"{path}.ladder", policy.ladder, ladders),
            targets=targets,
            milestone_ladders=milestone_ladders,
        )

    def follow_up(
        self, spec: PolicyFileSpec, calendars: Mapping[str, CalendarSpec]
    ) -> FollowUpSettings:
        follow_up = spec.follow_up
        holidays = set(follow_up.holidays)
        if follow_up.holidays_from is not None:
            source = calendars.get(follow_up.holidays_from)
            if source is None:
                self.fail(
                    "follow_up.holidays_from",
                    f"unknown calendar {follow_up.holidays_from!r} ({_known(calendars)})",
                )
            else:
                holidays.update(source.holidays)
        return FollowUpSettings(
            revisit_delay=follow_up.revisit_delay,
            contact_window=follow_up.contact_window,
            holidays=frozenset(holidays),
            default_timezone=spec.timezone,
            callback_lead_time=follow_up.callback_lead_time,
            callback_lease=follow_up.callback_lease,
            unreachable_attempts=follow_up.unreachable_attempts,
            unreachable_retry_interval=follow_up.unreachable_retry_interval,
        )

    @staticmethod
    def immediate(spec: ImmediateStepSpec) -> ImmediateStep:
        return ImmediateStep(spec.step, tuple(spec.audience))


def _match(spec: MatchSpec | None) -> Match | None:
    if spec is None:
        return None

    def values(items: list[Any] | None) -> frozenset[str] | None:
        return None if items is None else frozenset(str(item) for item in items)

    return Match(
        priorities=values(spec.priority),
        categories=values(spec.category),
        channels=values(spec.channel),
        dealers=values(spec.dealer),
        sensitive=spec.sensitive,
    )


def _known(names: Any) -> str:
    listed = ", ".join(sorted(str(name) for name in names))
    return f"known: {listed}" if listed else "none defined"
