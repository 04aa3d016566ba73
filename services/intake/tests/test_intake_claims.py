"""Property test of the Idempotency-Key state machine: any interleaving, failure or crash."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from casegold_intake import claims
from casegold_intake.claims import Action, KeyRow, next_action


@dataclass
class Request:
    """One client request: its body, where it stands, and the answers it got over its retries."""

    digest: bytes
    attempt: int | None = None  # holds the claim as this attempt
    live: bool = False  # ... and its lease has not run out
    done: bool = False
    answers: list[int] = field(default_factory=list)


@dataclass
class World:
    """The key's row, the requests, and what reached the topic."""

    row: KeyRow | None = None
    requests: list[Request] = field(default_factory=list)
    published: list[bytes] = field(default_factory=list)
    first_digest: bytes | None = None

    def step(self, request: Request, outcome: str) -> None:
        """Advance one request by one store step; `outcome` says how its publish ends."""
        if request.done:
            if outcome == "retry" and request.answers[-1] in (503, 423):
                request.done = False  # the client retries with the same key and body
            return
        if request.attempt is not None:
            self._publish(request, outcome)
            return
        action = next_action(self.row, request.digest)
        if action is Action.CLAIM:
            self.row = claims.claimed(request.digest, b"event:" + request.digest, b"reply")
            self.first_digest = self.first_digest or request.digest
            request.attempt, request.live = 1, True
        elif action is Action.CONFLICT:
            self._answer(request, 409)
        elif action is Action.REPLAY:
            self._answer(request, 200)
        elif action is Action.WAIT:
            if outcome == "give_up":
                self._answer(request, 423)  # 409 "in progress" with Retry-After
        else:
            assert self.row is not None
            taken = claims.taken_over(self.row, request.digest)
            assert taken is not None
            self.row, request.attempt, request.live = taken, taken.attempt, True

    def _publish(self, request: Request, outcome: str) -> None:
        assert self.row is not None and request.attempt is not None
        if outcome == "crash":  # the process dies: no release, the lease must run out
            request.attempt = None
            self._answer(request, 503)
            return
        if outcome == "kafka_down":
            self.row = claims.released(self.row, request.attempt)
            request.attempt = None
            self._answer(request, 503)
            return
        assert self.row.event is not None
        self.published.append(self.row.event)
        self.row, first = claims.marked_published(self.row)
        request.attempt = None
        self._answer(request, 201 if first else 200)

    def _answer(self, request: Request, status: int) -> None:
        request.done = True
        request.answers.append(status)

    def expire(self) -> None:
        """Every lease runs out (the clock passed `lease_until`)."""
        if self.row is not None:
            self.row = claims.expired(self.row)
        for request in self.requests:
            request.live = False

    def holders(self) -> list[Request]:
        return [r for r in self.requests if r.attempt is not None and r.live]


OUTCOMES = st.sampled_from(["ok", "ok", "ok", "kafka_down", "crash", "give_up", "retry"])
SCHEDULE = st.lists(st.tuples(st.integers(0, 7), OUTCOMES, st.booleans()), min_size=1, max_size=120)


@settings(max_examples=400, deadline=None)
@given(bodies=st.lists(st.sampled_from([b"A", b"B", b"C"]), min_size=1, max_size=8),
       schedule=SCHEDULE)  # fmt: skip
def test_one_key_is_one_event_one_201_and_a_conflict_for_every_other_body(
    bodies: list[bytes], schedule: list[tuple[int, str, bool]]
) -> None:
    world = World(requests=[Request(digest) for digest in bodies])
    for index, outcome, expire in schedule:
        world.step(world.requests[index % len(bodies)], outcome)
        if expire:
            world.expire()
        if world.row is not None:
            assert world.row.body_sha256 == world.first_digest, "the claimed body never changes"
            # Two requests publish at once only after a lease ran out.
            assert len(world.holders()) <= 1
    # Then every lease runs out and every request is retried until it has its answer.
    world.expire()
    for request in world.requests:
        for _ in range(4):
            if request.done and request.answers[-1] not in (503, 423):
                break
            world.step(request, "retry")
            world.step(request, "ok")
            world.step(request, "ok")
        assert request.done and request.answers[-1] in (200, 201, 409), request.answers

    assert set(world.published) <= {b"event:" + (world.first_digest or b"")}
    assert sum(r.answers.count(201) for r in world.requests) == 1
    for request in world.requests:
        if request.digest == world.first_digest:
            assert 409 not in request.answers and request.answers[-1] in (200, 201)
        else:
            assert set(request.answers) == {409}, "another body only ever gets a conflict"


def test_the_actions_of_each_row_state() -> None:
    claim = claims.claimed(b"A", b"e", b"r")
    assert next_action(None, b"A") is Action.CLAIM
    assert next_action(claim, b"B") is Action.CONFLICT
    assert next_action(claim, b"A") is Action.WAIT
    assert next_action(claims.released(claim, 1), b"A") is Action.TAKE_OVER
    assert claims.released(claim, 2) == claim, "a stale attempt cannot release a newer claim"
    assert claims.taken_over(claim, b"A") is None
    published, first = claims.marked_published(claim)
    assert first and next_action(published, b"A") is Action.REPLAY
    assert claims.marked_published(published) == (published, False)
    assert next_action(claims.expired(published), b"B") is Action.CONFLICT
