"""The registry matches the event catalogue and the topics."""

from typing import get_args

from casegold_contracts import (
    CASE_EVENTS,
    ESCALATIONS,
    EVENT_TYPES,
    TOPICS,
    event_types_on,
)

# docs/decisions/0001-event-catalogue.md, in table order.
CATALOGUE_CASE_EVENTS = (
    "case_opened",
    "case_acknowledged",
    "case_assigned",
    "customer_contacted",
    "callback_promised",
    "promise_kept",
    "solution_agreed",
    "customer_awaited",
    "case_resumed",
    "case_resolved",
    "case_closed",
    "case_reopened",
    "note_added",
    "priority_set",
    "escalation_acknowledged",
    "case_handed_to_dealer",
    "dealer_responded",
    "dealer_solution_agreed",
    "command_rejected",
    "repeat_complainant_detected",
    "revisit_outcome_recorded",
)


def test_registry_is_the_catalogue() -> None:
    assert event_types_on(CASE_EVENTS) == CATALOGUE_CASE_EVENTS
    assert event_types_on(ESCALATIONS) == ("escalation_raised",)
    assert len(EVENT_TYPES) == len(CATALOGUE_CASE_EVENTS) + 1


def test_every_spec_is_consistent() -> None:
    for name, spec in EVENT_TYPES.items():
        assert spec.event_type == name
        assert get_args(spec.model.model_fields["type"].annotation) == (name,)
        assert spec.version == spec.model.SCHEMA_VERSION >= 1
        assert spec.model.model_fields["payload"].annotation is spec.payload_model


def test_topics_are_listed() -> None:
    assert [topic.name for topic in TOPICS] == [CASE_EVENTS, ESCALATIONS]
    assert CASE_EVENTS == "complaints.case-events"
    assert ESCALATIONS == "complaints.escalations"
