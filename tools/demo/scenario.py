"""The demo's stories: which cases open, what agents do when, and how revisits answer (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Final

# Offsets are seconds after the case opened, on the demo policy's second-scale targets
# (deploy/policy/demo.yaml: first response P1 4 s, P2 8 s, P3 12 s; revisit 10 s after
# resolution). Each story is timed to show one behaviour of the ladder.
PRODUCTS: Final = ("Aurora S sedan", "Aurora X SUV", "Comet EV", "Nova hatchback")
DEALERS: Final = ("D-SH-017", "D-BJ-004", "D-GZ-023")
CHANNELS: Final = ("ivr", "phone", "web", "email", "letter", "walk_in")
ROOT_CAUSES: Final = (
    ("product", "Supplier batch of brake pads out of tolerance; batch recalled"),
    ("service_attitude", "New agents lacked de-escalation training; coaching scheduled"),
    ("delivery", "Logistics partner skipped the pre-delivery inspection; checklist enforced"),
    ("billing", "Invoice template rounded tax twice; template fixed"),
)
AGENTS: Final = ("agent.li", "agent.wang", "agent.chen", "agent.zhao")
NAMES: Final = ("王伟", "李娜", "张敏", "Chen Jie", "刘洋", "Emily Zhou", "赵磊", "孙丽")


@dataclass(frozen=True, slots=True)
class Action:
    """One command an agent (or a manager) sends `at` seconds after the case opened."""

    at: float
    command: dict[str, Any]
    role: str = "agent"


@dataclass(frozen=True, slots=True)
class CasePlan:
    """One case of the demo: how it opens, what happens to it, how its revisits answer."""

    story: str
    endpoint: str  # /v1/cases or /v1/mentions
    body: dict[str, Any]
    actions: tuple[Action, ...]
    # The revisit call's answers in order; the last one repeats. Empty: no revisit expected.
    revisit: tuple[dict[str, Any], ...] = ()
    # Sent again after an unsatisfied revisit reopened the case.
    after_reopen: tuple[Action, ...] = field(default=())


def _handling(start: float, resolve_at: float, rng: random.Random) -> tuple[Action, ...]:
    category, cause = rng.choice(ROOT_CAUSES)
    # Until assigned, the owner's warnings go to the team queue (SPEC §3).
    owner = {"command": "assign", "owner": rng.choice(AGENTS)}
    return (
        Action(max(0.3, start - 0.5), owner),
        Action(start, {"command": "acknowledge"}),
        Action(start + 1, {"command": "contact_customer", "note": "Called the customer back"}),
        Action(
            max(start + 2, resolve_at - 3),
            {"command": "agree_solution", "summary": "Repair at the dealer, loan car provided"},
        ),
        Action(
            resolve_at,
            {
                "command": "resolve",
                "resolution": "Repaired and confirmed with the customer",
                "root_cause": {"category": category, "text": cause},
            },
        ),
    )


SATISFIED: Final = {"outcome": "satisfied", "score": 5}


def _smooth(rng: random.Random) -> CasePlan:
    return _case("smooth", rng, actions=_handling(1, 8, rng), revisit=(SATISFIED,))


def _late_first_response(rng: random.Random) -> CasePlan:
    # P1: warning at 3 s, tier 1 at 4 s, tier 2 at 6 s (min 2 s); acknowledged at 7 s.
    return _case(
        "late first response (P1)",
        rng,
        priority="P1",
        actions=_handling(7, 14, rng),
        revisit=({"outcome": "satisfied", "score": 4},),
    )


def _broken_promise(rng: random.Random) -> CasePlan:
    due = {"command": "promise_callback", "promise_id": "p-1", "due_in_seconds": 4}
    unsatisfied = {"outcome": "unsatisfied", "reason": "Noise came back after two days"}
    steps = _handling(1, 12, rng)
    return _case(
        "broken promise, revisit unsatisfied",
        rng,
        category="broken_promise",
        actions=(*steps[:2], Action(2.5, due), *steps[2:]),
        revisit=(unsatisfied, SATISFIED),
        after_reopen=(_handling(0, 2, rng)[-1],),
    )


def _kept_promise(rng: random.Random) -> CasePlan:
    due = {"command": "promise_callback", "promise_id": "p-1", "due_in_seconds": 8}
    keep = {"command": "keep_promise", "promise_id": "p-1"}
    steps = _handling(1, 9, rng)
    return _case(
        "promise kept, customer unreachable once",
        rng,
        actions=(*steps[:2], Action(2.5, due), Action(5, keep), *steps[2:]),
        revisit=({"outcome": "unreachable"}, {"outcome": "satisfied", "score": 4}),
    )


def _sensitive_chinese(rng: random.Random) -> CasePlan:
    summary = "客户称刹车异响三次未修好，要联系记者曝光并起诉"
    # A manager acknowledges the tier 2 notice (the runner fills in its escalation id).
    acknowledge = Action(3, {"command": "acknowledge_escalation"}, role="manager")
    return _case(
        "sensitive (记者, 曝光, 起诉)",
        rng,
        category="product",
        summary=summary,
        actions=(*_handling(1, 10, rng), acknowledge),
        revisit=({"outcome": "satisfied", "score": 3},),
    )


def _sensitive_mention(rng: random.Random) -> CasePlan:
    text = "Third time at the dealer and still broken. My lawyer and a journalist will hear of it."
    body = {
        "source_url": f"https://weibo.example/post/{rng.randrange(10**8)}",
        "text": text,
        "keywords": ["lawyer", "journalist"],
        "reach": rng.randrange(2_000, 90_000),
        "customer": _customer(rng),
        "product": rng.choice(PRODUCTS),
    }
    return CasePlan(
        "sensitive social mention (lawyer, journalist)",
        "/v1/mentions",
        body,
        _handling(1, 10, rng),
        revisit=(SATISFIED,),
    )


def _dealer(rng: random.Random) -> CasePlan:
    dealer = rng.choice(DEALERS)
    # Dealer clocks: first response 6 s (warning at 4.5 s, tier 1 at 6 s); replies at 8 s.
    actions = (
        Action(0.5, {"command": "hand_to_dealer", "dealer_id": dealer}),
        Action(8, {"command": "dealer_responded"}),
        Action(11, {"command": "dealer_agreed_solution"}),
        *_handling(1, 14, rng),
    )
    return _case(
        f"dealer case ({dealer}), wrong number on revisit",
        rng,
        category="delivery",
        dealer_id=dealer,
        actions=actions,
        revisit=({"outcome": "wrong_number"},),
    )


def _neglected(rng: random.Random) -> CasePlan:
    # P3, nobody acknowledges until 26 s: warning 9 s, tier 1 12 s, tier 2 15 s, tier 3 24 s.
    return _case(
        "neglected (every tier)",
        rng,
        priority="P3",
        category="response_speed",
        actions=_handling(26, 32, rng),
        revisit=(SATISFIED,),
    )


def _waiting(rng: random.Random) -> CasePlan:
    wait = {"command": "await_customer", "reason": "Customer sends photos of the damage"}
    actions = _handling(1, 13, rng)
    return _case(
        "waits on the customer (clocks paused)",
        rng,
        actions=(*actions[:2], Action(3, wait), Action(8, {"command": "resume"}), *actions[2:]),
        revisit=({"outcome": "satisfied", "score": 4},),
    )


STORIES: Final = (
    _smooth,
    _late_first_response,
    _broken_promise,
    _sensitive_chinese,
    _dealer,
    _kept_promise,
    _sensitive_mention,
    _neglected,
    _waiting,
)


def _customer(rng: random.Random, phone: str | None = None) -> dict[str, Any]:
    return {
        "phone": phone or f"+86139{rng.randrange(10**8):08d}",
        "name": rng.choice(NAMES),
        "timezone": "Asia/Shanghai",
    }


def _case(
    story: str,
    rng: random.Random,
    *,
    actions: tuple[Action, ...],
    revisit: tuple[dict[str, Any], ...],
    priority: str | None = None,
    category: str | None = None,
    summary: str | None = None,
    dealer_id: str | None = None,
    phone: str | None = None,
    after_reopen: tuple[Action, ...] = (),
) -> CasePlan:
    product = rng.choice(PRODUCTS)
    body: dict[str, Any] = {
        "channel": rng.choice(CHANNELS),
        "customer": _customer(rng, phone),
        "category": category or rng.choice(("product", "service_attitude", "billing")),
        "product": product,
        "summary": summary or f"{product}: warning light stays on after the service visit",
        "description": "Reported by the customer on the hotline.",
    }
    if priority:
        body["priority"] = priority
    if dealer_id:
        body["dealer_id"] = dealer_id
    return CasePlan(story, "/v1/cases", body, actions, revisit, after_reopen)


def repeat_pair(rng: random.Random) -> tuple[CasePlan, CasePlan]:
    """Two cases from one phone number: the second is a repeat complaint (tier 1 at once)."""
    phone = f"+86137{rng.randrange(10**8):08d}"
    first = _case(
        "repeat complainant, 1st case",
        rng,
        actions=_handling(1, 8, rng),
        phone=phone,
        revisit=(SATISFIED,),
    )
    second = _case(
        "repeat complainant, 2nd case",
        rng,
        actions=_handling(1, 9, rng),
        phone=phone,
        category="service_attitude",
        summary="Second complaint: the promised fix never happened",
        revisit=(SATISFIED,),
    )
    return first, second


def plans(count: int, seed: int) -> list[CasePlan]:
    """`count` cases cycling through the stories; from 4 cases on, a repeat complainant's pair
    opens first and last (the second is seen once the first is on record)."""
    rng = random.Random(seed)
    pair = repeat_pair(rng) if count >= 4 else None
    others = count - (2 if pair else 0)
    chosen = [STORIES[index % len(STORIES)](rng) for index in range(others)]
    return [pair[0], *chosen, pair[1]] if pair else chosen
