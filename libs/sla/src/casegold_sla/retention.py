"""How long a closed case is kept (for a reopen), and when it may be forgotten.

A closed case is kept for the retention after the last event applied while it was closed (the
close, or a revisit outcome recorded after it), then deleted: the worker's tables, recovery and
due index scale with live cases, not with every case ever opened. Any later event that reopens
it restarts nothing: a reopen within the retention keeps the case; after it, the case is gone.
"""

from casegold_sla.state import CLOSED, CaseState


def closed_since(state: CaseState, previous_us: int | None, event_us: int) -> int | None:
    """The instant the retention counts from after an event was applied (None unless closed)."""
    if state.status != CLOSED:
        return None
    return event_us if previous_us is None else max(previous_us, event_us)


def forget_at(state: CaseState, closed_us: int | None, retention_us: int) -> int | None:
    """The instant a closed case may be deleted (None while it is not closed)."""
    if state.status != CLOSED or closed_us is None:
        return None
    return closed_us + retention_us


def expired(state: CaseState, closed_us: int | None, retention_us: int, now_us: int) -> bool:
    """Whether the case is closed, with nothing left to send, past its retention."""
    until = forget_at(state, closed_us, retention_us)
    return until is not None and now_us >= until and not state.pending


def next_look(next_due_us: int | None, forget_us: int | None) -> int | None:
    """The earlier of the next step due and the instant the case may be forgotten."""
    if next_due_us is None or forget_us is None:
        return forget_us if next_due_us is None else next_due_us
    return min(next_due_us, forget_us)
