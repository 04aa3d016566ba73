"""What intake asks the SLA core about a new case: sensitivity, priority and due times.

No rule lives here: the core decides (`PolicySet.sensitive_reasons`, `.default_priority`, and
`due_times()` on the case state `open_case` starts), so the reply shows exactly what the
escalation service will enforce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casegold_contracts import CaseOpened
from casegold_platform.settings import PolicySettings, load
from casegold_sla.decide import due_times
from casegold_sla.evolve import open_case
from casegold_sla.policy import PolicySet


@dataclass(frozen=True, slots=True)
class SlaTerms:
    """The policy a new case runs under and when each of its running clocks is due."""

    policy: str
    due: dict[str, datetime]


class SlaPolicy:
    """The loaded policy file, seen from intake."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set

    @classmethod
    def from_env(cls) -> SlaPolicy:
        """Load the file named by CASEGOLD_POLICY_FILE (default deploy/policy/default.yaml)."""
        return cls(load(PolicySettings).load())

    def sensitive_reasons(self, *texts: str | None) -> tuple[str, ...]:
        """The configured sensitive keywords found in the texts."""
        return self.policy_set.sensitive_reasons(*texts)

    def default_priority(
        self, *, category: str, channel: str, dealer_id: str | None, sensitive: bool
    ) -> str:
        """The priority of a case that came without one: the policy file's `priority_rules`."""
        return self.policy_set.default_priority(
            category=category, channel=channel, dealer_id=dealer_id, sensitive=sensitive
        )

    def terms(self, event: CaseOpened) -> SlaTerms:
        """The policy the new case is frozen under and its clocks' due times, from the core."""
        state = open_case(event, self.policy_set)
        return SlaTerms(policy=state.policy.name, due=due_times(state))
