"""Closed vocabularies of the event catalogue (docs/decisions/0001-event-catalogue.md)."""

from typing import Final, Literal, get_args

ActorKind = Literal["ivr", "agent", "system", "manager", "revisit_agent", "monitor"]
Channel = Literal["ivr", "phone", "web", "email", "social", "letter", "walk_in"]
Priority = Literal["P1", "P2", "P3", "P4"]
Step = Literal["warning", "tier_1", "tier_2", "tier_3"]
CaseStatus = Literal[
    "open",
    "acknowledged",
    "in_progress",
    "solution_agreed",
    "awaiting_customer",
    "resolved",
    "closed",
    "reopened",
]
EscalationReason = Literal[
    "sla_warning", "sla_breach", "sensitive", "repeat_complainant", "reopened", "broken_promise"
]
Audience = Literal[
    "owner", "team_lead", "department_manager", "director", "pr_legal", "dealer_management"
]
RevisitOutcome = Literal["satisfied", "unsatisfied", "unreachable", "wrong_number"]
PromiseStatus = Literal["pending", "kept", "broken"]

ACTOR_KINDS: Final[tuple[ActorKind, ...]] = get_args(ActorKind)
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)
STEPS: Final[tuple[Step, ...]] = get_args(Step)
CASE_STATUSES: Final[tuple[CaseStatus, ...]] = get_args(CaseStatus)
ESCALATION_REASONS: Final[tuple[EscalationReason, ...]] = get_args(EscalationReason)
AUDIENCES: Final[tuple[Audience, ...]] = get_args(Audience)
REVISIT_OUTCOMES: Final[tuple[RevisitOutcome, ...]] = get_args(RevisitOutcome)

# The tier number carried next to each step (warning is tier 0).
STEP_TIERS: Final[dict[Step, int]] = {"warning": 0, "tier_1": 1, "tier_2": 2, "tier_3": 3}

# Milestones named by SPEC §3; `promise:<promise_id>` milestones are built with promise_milestone.
MILESTONES: Final[tuple[str, ...]] = (
    "first_response",
    "solution_agreed",
    "resolution",
    "revisit",
    "dealer_first_response",
    "dealer_solution_agreed",
    "dealer_resolution",
)

# Default category list of SPEC §3; the live list is configuration, so payloads accept any.
DEFAULT_CATEGORIES: Final[tuple[str, ...]] = (
    "product",
    "service_attitude",
    "broken_promise",
    "response_speed",
    "billing",
    "delivery",
    "other",
)


def promise_milestone(promise_id: str) -> str:
    """Return the milestone name of a promised callback."""
    return f"promise:{promise_id}"
