"""What a notice shows beside the state: the last events, the promises, earlier escalations.

The SLA core keeps only what the clocks need; a manager's notice also needs the case's recent
history (SPEC §3 "Notifications"). The worker keeps this small context in the same table
record as the state, so it costs no extra write, and bounds it so a record stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from casegold_contracts import (
    CallbackPromised,
    CaseOpened,
    EscalationAcknowledged,
    Event,
    NoteAdded,
    PriorEscalation,
    PromiseKept,
    PromiseSnapshot,
    TimelineEntry,
)
from casegold_sla import Escalation, promise_of

RECENT_EVENTS = 5
PRIOR_ESCALATIONS = 10
PROMISES = 10
SUMMARY_CHARS = 200
BREACHES = 20


@dataclass(slots=True)
class CaseContext:
    """Bounded, JSON-friendly history of one case."""

    recent: list[dict[str, Any]] = field(default_factory=list)
    promises: dict[str, dict[str, Any]] = field(default_factory=dict)
    prior: list[dict[str, Any]] = field(default_factory=list)
    # Offset (on the case's one partition of the case events) of the last event applied: any
    # record at or below it is a redelivery, however far back the last commit was.
    applied_offset: int = -1
    # What the complaint is about, kept apart from the bounded timeline: a case with more
    # than RECENT_EVENTS events still says it in every notice.
    summary: str | None = None
    # The instant the retention of a closed case counts from (None while it is not closed),
    # and the customer to tell when the case is forgotten.
    closed_us: int | None = None
    customer_key: str | None = None
    # "milestone#cycle" of the breaches counted without a ladder step (special periods).
    breached: list[str] = field(default_factory=list)

    def already_applied(self, offset: int | None) -> bool:
        """Whether the event at that offset was applied before (a redelivery)."""
        return offset is not None and offset <= self.applied_offset

    def record_event(self, event: Event) -> None:
        """Remember an accepted event on the timeline, and what it says of promises."""
        summary = None
        if isinstance(event, CaseOpened):
            summary = event.payload.summary
            self.summary = summary[:SUMMARY_CHARS] if summary else None
            self.customer_key = event.payload.customer_key or None
        elif isinstance(event, NoteAdded):
            summary = event.payload.text
        entry = {
            "event_id": str(event.event_id),
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat(),
            "actor_kind": event.actor.kind,
            "summary": summary[:SUMMARY_CHARS] if summary else None,
        }
        self.recent = [*self.recent, entry][-RECENT_EVENTS:]
        if isinstance(event, CallbackPromised):
            promise = {"due_at": event.payload.due_at.isoformat(), "status": "pending"}
            self.promises[event.payload.promise_id] = promise
            while len(self.promises) > PROMISES:
                self.promises.pop(next(iter(self.promises)))
        elif isinstance(event, PromiseKept) and event.payload.promise_id in self.promises:
            self.promises[event.payload.promise_id]["status"] = "kept"
        elif isinstance(event, EscalationAcknowledged):
            acknowledged = str(event.payload.escalation_id)
            for item in self.prior:
                if item["escalation_id"] == acknowledged:
                    item["acknowledged"] = True

    def record_escalations(self, escalations: tuple[Escalation, ...], fired_at: str) -> None:
        """Remember fired steps (once each) and mark the promises they say were broken."""
        known = {item["escalation_id"] for item in self.prior}
        for escalation in escalations:
            promise_id = promise_of(escalation.milestone)
            if promise_id is not None:
                promise = self.promises.get(promise_id)
                if promise is not None and promise["status"] == "pending":
                    promise["status"] = "broken"
            if str(escalation.escalation_id) in known:
                continue
            known.add(str(escalation.escalation_id))
            self.prior.append(
                {
                    "escalation_id": str(escalation.escalation_id),
                    "milestone": escalation.milestone,
                    "step": escalation.step,
                    "fired_at": fired_at,
                }
            )
        self.prior = self.prior[-PRIOR_ESCALATIONS:]

    def new_breaches(self, reached: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
        """The milestones among `reached` not counted before (remembered from now on)."""
        fresh = []
        for name, cycle in reached:
            mark = f"{name}#{cycle}"
            if mark not in self.breached:
                self.breached.append(mark)
                fresh.append(name.split(":", 1)[0])
        self.breached = self.breached[-BREACHES:]
        return tuple(fresh)

    def timeline(self) -> tuple[TimelineEntry, ...]:
        return tuple(TimelineEntry.model_validate(item) for item in self.recent)

    def promise_snapshots(self) -> tuple[PromiseSnapshot, ...]:
        return tuple(
            PromiseSnapshot.model_validate({"promise_id": pid, **promise})
            for pid, promise in self.promises.items()
        )

    def prior_escalations(self) -> tuple[PriorEscalation, ...]:
        return tuple(PriorEscalation.model_validate(item) for item in self.prior)

    def to_json(self) -> dict[str, Any]:
        return {
            "recent": self.recent,
            "promises": self.promises,
            "prior": self.prior,
            "offset": self.applied_offset,
            "summary": self.summary,
            "closed_us": self.closed_us,
            "customer": self.customer_key,
            "breached": self.breached,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CaseContext:
        data = data or {}
        return cls(
            list(data.get("recent", [])),
            dict(data.get("promises", {})),
            list(data.get("prior", [])),
            int(data.get("offset", -1)),
            # Records stored before the summary was kept apart find it on the timeline.
            data.get("summary")
            or next(
                (e["summary"] for e in data.get("recent", []) if e["type"] == "case_opened"), None
            ),
            data.get("closed_us"),
            data.get("customer"),
            list(data.get("breached", [])),
        )
