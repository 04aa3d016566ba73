"""Case state to and from JSON-safe dicts, for the escalation processor's changelog.

The frozen policy travels as a reference (policy file version, policy name, special period,
sensitivity); restoring needs a `PolicyRegistry` holding that version. Rules are rebuilt from
it, so a restored case climbs exactly the ladder it was opened with.
"""

from typing import Any, Final
from uuid import UUID

from casegold_sla.clock import make_milestone, shared_milestones
from casegold_sla.instants import from_us, span, span_us, to_us
from casegold_sla.policy import PolicyRegistry
from casegold_sla.state import CaseState, Escalation, Reminder

FORMAT: Final = 1


class StateFormatError(ValueError):
    """A stored state that cannot be restored (unknown format or policy version)."""


class PolicyVersionUnknown(StateFormatError):
    """A stored state frozen under a policy version the registry does not hold (yet)."""


def dump_state(state: CaseState) -> dict[str, Any]:
    """The state as a JSON-safe dict."""
    policy = state.policy
    return {
        "format": FORMAT,
        "case_id": str(state.case_id),
        "status": state.status,
        "resume_status": state.resume_status,
        "owner": state.owner,
        "priority": state.priority,
        "category": state.category,
        "dealer_id": state.dealer_id,
        "sensitive": state.sensitive,
        "repeat": state.repeat,
        "policy": {
            "version": policy.version,
            "name": policy.name,
            "period": policy.period.name if policy.period else None,
        },
        "cycle": state.cycle,
        "dealer_round": state.dealer_round,
        "anchor_at": state.anchor_at,
        "anchor_offset": state.anchor_offset,
        "milestones": [
            [m.rule.kind, m.rule.qualifier, m.cycle, m.start, m.cursor] for m in state.milestones
        ],
        "reminders": [
            [r.milestone, r.cycle, r.step_index, r.count, r.acknowledged]
            for r in state.reminders or ()
        ],
        "pending": [_dump_escalation(item) for item in state.pending or ()],
        "recent_events": format(state.recent_events, "x"),
        "promise_cycles": [[pid, cycle] for pid, cycle in state.promise_cycles or ()],
    }


def load_state(document: dict[str, Any], registry: PolicyRegistry) -> CaseState:
    """Rebuild a state dumped by `dump_state`; StateFormatError if it cannot be."""
    if document.get("format") != FORMAT:
        raise StateFormatError(f"unknown case state format {document.get('format')!r}")
    reference = document["policy"]
    try:
        policy_set = registry.get(reference["version"])
    except KeyError:
        raise PolicyVersionUnknown(
            f"policy version {reference['version']} is not in the registry"
        ) from None
    policy = policy_set.snapshot(reference["name"], reference["period"], document["sensitive"])
    milestones = []
    for kind, qualifier, cycle, start, cursor in document["milestones"]:
        rule = policy.rule(kind, qualifier)
        if rule is None:
            raise StateFormatError(f"policy {policy.name} has no milestone {kind}")
        milestones.append(make_milestone(policy, rule, cycle, start, cursor))
    reminders = tuple(Reminder(*fields) for fields in document["reminders"])
    pending = tuple(_load_escalation(item) for item in document["pending"])
    return CaseState(
        case_id=UUID(document["case_id"]),
        status=document["status"],
        resume_status=document["resume_status"],
        owner=document["owner"],
        priority=document["priority"],
        category=document["category"],
        dealer_id=document["dealer_id"],
        sensitive=document["sensitive"],
        repeat=document["repeat"],
        policy=policy,
        cycle=document["cycle"],
        dealer_round=document["dealer_round"],
        anchor_at=document["anchor_at"],
        anchor_offset=document["anchor_offset"],
        milestones=shared_milestones(policy, tuple(milestones)),
        reminders=reminders or None,
        pending=pending or None,
        recent_events=int(document["recent_events"], 16),
        # Absent from states stored before promise cycles were kept: every promise in cycle 1.
        promise_cycles=tuple((str(p), int(c)) for p, c in document.get("promise_cycles", ()))
        or None,
    )


def _dump_escalation(item: Escalation) -> list[Any]:
    return [
        str(item.escalation_id),
        str(item.case_id),
        item.milestone,
        item.cycle,
        item.step,
        item.tier,
        item.reason,
        list(item.audience),
        to_us(item.due_at),
        item.repeat,
        span_us(item.late),
    ]


def _load_escalation(fields: list[Any]) -> Escalation:
    escalation, case, milestone, cycle, step, tier, reason, audience, due, repeat, late = fields
    return Escalation(
        escalation_id=UUID(escalation),
        case_id=UUID(case),
        milestone=milestone,
        cycle=cycle,
        step=step,
        tier=tier,
        reason=reason,
        audience=tuple(audience),
        due_at=from_us(due),
        repeat=repeat,
        late=span(late),
    )
