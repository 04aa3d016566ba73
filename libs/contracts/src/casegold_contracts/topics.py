"""Kafka topic names and what each carries."""

from dataclasses import dataclass
from typing import Final

CASE_EVENTS: Final = "complaints.case-events"
ESCALATIONS: Final = "complaints.escalations"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic the platform creates: its name, its key and what it carries."""

    name: str
    key: str
    description: str


TOPICS: Final[tuple[TopicSpec, ...]] = (
    TopicSpec(
        name=CASE_EVENTS,
        key="case_id (UUID text), so one case's events stay in order on one partition",
        description="case event envelopes: commands as past-tense events, system events",
    ),
    TopicSpec(
        name=ESCALATIONS,
        key="case_id (UUID text), so one case's escalations stay in order on one partition",
        description="escalation_raised envelopes for the notifier and reporting",
    ),
)
