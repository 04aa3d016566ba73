"""The Idempotency-Key state machine (pure): what a request does on what the store holds.

A key is absent, then *claimed* by the first request (its body digest, event and reply are
recorded, with a lease while that request publishes), then *published* once Kafka
acknowledged the event. The digest never changes: another body is a conflict forever. A claim
whose lease ended (its publish failed, or its process died) is taken over by the next request
with the same body, which publishes the *stored* event again (the same event id). Decision 0024.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Action(enum.Enum):
    """The next step of a request, given the key's row."""

    CLAIM = "claim"  # no row: insert one, as attempt 1
    CONFLICT = "conflict"  # another body holds the key: 409, whatever its state
    REPLAY = "replay"  # published: answer the stored reply
    WAIT = "wait"  # same body, its claimant still publishing: wait (bounded), then look again
    TAKE_OVER = "take_over"  # same body, the claim's lease ended: publish the stored event again


@dataclass(frozen=True, slots=True)
class KeyRow:
    """What the store holds for one key; `leased`: a claimant is publishing right now."""

    body_sha256: bytes
    attempt: int
    published: bool
    leased: bool
    event: bytes | None = None
    reply: bytes | None = None


def next_action(row: KeyRow | None, digest: bytes) -> Action:
    """What a request with body `digest` does next on `row`."""
    if row is None:
        return Action.CLAIM
    if row.body_sha256 != digest:
        return Action.CONFLICT
    if row.published:
        return Action.REPLAY
    return Action.WAIT if row.leased else Action.TAKE_OVER


def claimed(digest: bytes, event: bytes, reply: bytes) -> KeyRow:
    """The row a first request inserts: attempt 1, leased to it."""
    return KeyRow(digest, attempt=1, published=False, leased=True, event=event, reply=reply)


def taken_over(row: KeyRow, digest: bytes) -> KeyRow | None:
    """The row after a take-over by a request with `digest`, or None when it may not take it."""
    if next_action(row, digest) is not Action.TAKE_OVER:
        return None
    return replace(row, attempt=row.attempt + 1, leased=True)


def released(row: KeyRow, attempt: int) -> KeyRow:
    """The row after attempt `attempt` gave up (its publish failed); a later attempt keeps it."""
    if row.published or row.attempt != attempt:
        return row
    return replace(row, leased=False)


def expired(row: KeyRow) -> KeyRow:
    """The row once its lease has run out (the claimant vanished without releasing it)."""
    return row if row.published else replace(row, leased=False)


def marked_published(row: KeyRow) -> tuple[KeyRow, bool]:
    """The row after a publish was acknowledged, and whether this mark was the first (201)."""
    if row.published:
        return row, False
    return replace(row, published=True, leased=False), True
