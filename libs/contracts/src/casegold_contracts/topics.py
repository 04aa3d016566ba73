"""Kafka topic names and what each carries."""

from dataclasses import dataclass
from typing import Final

CASE_EVENTS: Final = "complaints.case-events"
ESCALATIONS: Final = "complaints.escalations"


@dataclass(frozen=True, slots=True)
class TopicContract:
    """What a topic carries and how it is keyed (its layout: casegold_platform.kafka)."""

    name: str
    key: str
    description: str


TOPICS: Final[tuple[TopicContract, ...]] = (
    TopicContract(
        name=CASE_EVENTS,
        key="case_id (UUID text), so one case's events stay in order on one partition",
        description="case event envelopes: commands as past-tense events, system events",
    ),
    TopicContract(
        name=ESCALATIONS,
        key="case_id (UUID text), so one case's escalations stay in order on one partition",
        description="escalation_raised envelopes for the notifier and reporting",
    ),
)
