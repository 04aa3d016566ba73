"""What intake needs from the SLA policy: sensitivity, default priority and due times."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from casegold_contracts import Priority
from casegold_sla.instants import from_us, to_us
from casegold_sla.policy import CASE_MILESTONES, PolicySet
from casegold_sla.policy_loader import POLICY_FILE_VARIABLE, load_policy

DEFAULT_POLICY_FILE: Final = "deploy/policy/default.yaml"


@dataclass(frozen=True, slots=True)
class SlaTerms:
    """The policy a new case runs under and when each of its milestones is due."""

    policy: str
    due: dict[str, datetime]


def default_priority(*, sensitive: bool) -> Priority:
    """The priority of a case that came without one.

    casegold_sla has no priority rule yet; until it does, this is the one place that decides:
    a sensitive case (journalist, lawyer, regulator…) is P2, anything else P3.
    """
    return "P2" if sensitive else "P3"


class SlaPolicy:
    """The loaded policy file, seen from intake."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set

    @classmethod
    def from_env(cls) -> SlaPolicy:
        """Load the file named by CASEGOLD_POLICY_FILE (default deploy/policy/default.yaml)."""
        return cls(load_policy(os.environ.get(POLICY_FILE_VARIABLE) or DEFAULT_POLICY_FILE))

    def sensitive_reasons(self, *texts: str | None) -> tuple[str, ...]:
        """The configured sensitive keywords found in the texts."""
        return self.policy_set.sensitive_reasons(*texts)

    def terms(
        self,
        *,
        priority: str,
        category: str,
        channel: str,
        dealer_id: str | None,
        sensitive: bool,
        opened_at: datetime,
    ) -> SlaTerms:
        """Select the policy for a new case and compute its milestones' due times."""
        opened = to_us(opened_at)
        frozen = self.policy_set.freeze(
            priority=priority,
            category=category,
            channel=channel,
            dealer_id=dealer_id,
            sensitive=sensitive,
            opened_at=opened,
        )
        due = {}
        for milestone in CASE_MILESTONES:
            rule = frozen.rule(milestone, priority)
            if rule is not None:
                due[milestone] = from_us(frozen.calendar.add_us(opened, rule.target))
        return SlaTerms(policy=frozen.name, due=due)
