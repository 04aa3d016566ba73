"""Casegold SLA core: calendars, business time, policies, the case state machine and ladders.

Pure: no I/O besides reading the policy file when asked, and no clock — time is an argument.
"""

from casegold_sla.calendar import (
    Calendar,
    CalendarError,
    add_business,
    business_between,
    next_open,
    parse_hours,
)
from casegold_sla.contact import next_contact_time
from casegold_sla.decide import clocks, decide, decide_us, due_times, plan
from casegold_sla.durations import format_duration, parse_duration
from casegold_sla.evolve import Result, evolve
from casegold_sla.instants import from_us, to_us
from casegold_sla.policy import (
    CasePolicy,
    CustomerTally,
    FollowUpSettings,
    Policy,
    PolicyRegistry,
    PolicySet,
    RepeatRule,
    ReportSettings,
    SpecialPeriod,
    promise_milestone,
    promise_of,
)
from casegold_sla.policy_loader import (
    PolicyError,
    Problem,
    load_policy,
    load_policy_text,
)
from casegold_sla.serialize import PolicyVersionUnknown, StateFormatError, dump_state, load_state
from casegold_sla.state import (
    CaseState,
    ClockView,
    Decision,
    Escalation,
    Milestone,
    PlannedStep,
    Rejection,
)

__all__ = [
    "Calendar",
    "CalendarError",
    "CasePolicy",
    "CaseState",
    "ClockView",
    "CustomerTally",
    "Decision",
    "Escalation",
    "FollowUpSettings",
    "Milestone",
    "PlannedStep",
    "Policy",
    "PolicyError",
    "PolicyRegistry",
    "PolicySet",
    "PolicyVersionUnknown",
    "Problem",
    "Rejection",
    "RepeatRule",
    "ReportSettings",
    "Result",
    "SpecialPeriod",
    "StateFormatError",
    "add_business",
    "business_between",
    "clocks",
    "decide",
    "decide_us",
    "due_times",
    "dump_state",
    "evolve",
    "format_duration",
    "from_us",
    "load_policy",
    "load_policy_text",
    "load_state",
    "next_contact_time",
    "next_open",
    "parse_duration",
    "parse_hours",
    "plan",
    "promise_milestone",
    "promise_of",
    "to_us",
]
