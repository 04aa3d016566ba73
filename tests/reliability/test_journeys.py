"""End-to-end journeys through all five services, each step checked in reporting and the metrics.

One stack for the folder (conftest.py): a scratch broker and a scratch PostgreSQL, the fast
policy (second-scale targets) and a webhook receiver standing in for every audience.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from bench.fault_stack import Stack
from tests.reliability.journeys import (
    Journey,
    customer,
    delivered_to,
    metric,
    notice_key,
    resolve_body,
    steps,
    summary,
)
from tests.support.intake import case_body, mention_body
from tests.support.receivers import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="package")]


@pytest_asyncio.fixture(loop_scope="package")
async def journey(stack: Stack, rel_receiver: Receiver) -> AsyncIterator[Journey]:
    async with httpx.AsyncClient() as client:
        yield Journey(stack, rel_receiver, client)


async def test_broken_promise_unsatisfied_revisit_reopens_escalates_and_closes(
    journey: Journey,
) -> None:
    escalated = await journey.metrics("escalation")
    revisits = await journey.metrics("followup")
    # The IVR posts: open, first response running.
    reply = await journey.open(
        case_body(external_ref="call-journey-1", priority="P3", customer=customer())
    )
    assert reply["priority"] == "P3"
    view = await journey.until(lambda v: v["status"] == "open", "the case projected")
    clocks = {c["milestone"]: c for c in view["clocks"]}
    assert clocks["first_response"]["status"] == "running", (
        view["as_of"],
        view["opened_at"],
        clocks,
        reply,
    )
    opened = metric(await journey.metrics("intake"), "casegold_cases_opened_total", channel="ivr")
    assert opened >= 1

    # An agent takes it, acknowledges and promises a callback in 3 s, then does not call.
    await journey.do({"command": "assign", "owner": "agent.li"})
    await journey.do({"command": "acknowledge"})
    await journey.promise(3)
    view = await journey.until(
        lambda v: v["status"] == "acknowledged" and len(v["callbacks"]) == 1, "acknowledged"
    )
    assert view["owner"] == "agent.li"
    assert view["callbacks"][0]["status"] == "pending"

    # The promise breaks: tier 1 to the team lead at once, delivered.
    view = await journey.until(
        lambda v: ("tier_1", "team_lead") in delivered_to(v), "the broken promise's tier 1"
    )
    assert [c["status"] for c in view["callbacks"]] == ["broken"]
    assert ("promise:p-1", 1, "tier_1", "broken_promise") in steps(view), summary(view)
    await journey.wait_notices(
        lambda found: ("promise:p-1", "tier_1", "hooks/team_lead") in map(notice_key, found),
        "the team lead's notice",
    )
    now = await journey.metrics("escalation")
    labels = {"tier": "1", "reason": "broken_promise"}
    assert metric(now, "casegold_escalations_total", **labels) == (
        metric(escalated, "casegold_escalations_total", **labels) + 1
    )

    # Resolved; the revisit comes due 10 s later and the customer is unsatisfied.
    await journey.do(resolve_body())
    await journey.until(lambda v: v["status"] == "resolved", "resolved")
    callback = await journey.lease_revisit()
    made = await journey.answer(callback, outcome="unsatisfied", reason="It leaks again")
    assert made == ["revisit_outcome_recorded", "case_reopened"]

    # Reopened: a new resolution cycle and tier 1 at once (reason reopened).
    view = await journey.until(
        lambda v: v["status"] == "reopened"
        and any(e["reason"] == "reopened" for e in v["escalations"]),
        "reopened and escalated",
    )
    assert view["cycle"] == 2
    [reopened] = [e for e in view["escalations"] if e["reason"] == "reopened"]
    assert (reopened["step"], reopened["cycle"]) == ("tier_1", 2)
    after = await journey.metrics("followup")
    assert metric(after, "casegold_revisit_outcomes_total", outcome="unsatisfied") == (
        metric(revisits, "casegold_revisit_outcomes_total", outcome="unsatisfied") + 1
    )

    # Resolved again; the second revisit is satisfied and closes the case.
    await journey.do(resolve_body("Replaced the pump as well"))
    await journey.until(lambda v: v["status"] == "resolved" and v["cycle"] == 2, "resolved again")
    callback = await journey.lease_revisit()
    made = await journey.answer(callback, outcome="satisfied", score=5)
    assert made == ["revisit_outcome_recorded", "case_closed"]
    view = await journey.until(lambda v: v["status"] == "closed", "closed")
    assert [r["outcome"] for r in view["revisits"]] == ["unsatisfied", "satisfied"]
    print(summary(view))
    assert steps(view) == {
        ("promise:p-1", 1, "tier_1", "broken_promise"),
        (reopened["milestone"], 2, "tier_1", "reopened"),
    }, summary(view)
    final = await journey.metrics("escalation")
    labels = {"tier": "1", "reason": "reopened"}
    assert metric(final, "casegold_escalations_total", **labels) == (
        metric(escalated, "casegold_escalations_total", **labels) + 1
    )


async def test_sensitive_mention_goes_to_tier_2_and_pr_legal_at_once(journey: Journey) -> None:
    before = await journey.metrics("escalation")
    text = "Third visit and still broken. My lawyer and a journalist will hear of it."
    reply = await journey.open(
        mention_body(text=text, customer=customer()), endpoint="/v1/mentions"
    )
    assert reply["sensitive"] is True, reply
    view = await journey.until(
        lambda v: {("tier_2", "department_manager"), ("tier_2", "pr_legal")} <= delivered_to(v),
        "tier 2 delivered to the department manager and PR/legal",
    )
    assert view["sensitive"] is True
    assert view["channel"] == "social"
    [raised] = [e for e in view["escalations"] if e["reason"] == "sensitive"]
    assert raised["step"] == "tier_2"
    assert set(raised["audiences"]) == {"department_manager", "pr_legal"}
    assert raised["late_seconds"] <= 2
    found = await journey.wait_notices(
        lambda n: any(x["path"] == "/hooks/pr_legal" for x in n), "PR/legal's notice"
    )
    assert {n["escalation"]["reason"] for n in found} == {"sensitive"}
    labels = {"tier": "2", "reason": "sensitive"}
    assert metric(await journey.metrics("escalation"), "casegold_escalations_total", **labels) == (
        metric(before, "casegold_escalations_total", **labels) + 1
    )
    # Handled in time from here on: no SLA step follows the immediate one.
    await journey.do({"command": "acknowledge"})
    await journey.do(resolve_body())
    await journey.do({"command": "close"})
    view = await journey.until(lambda v: v["status"] == "closed", "closed")
    assert {s[2:] for s in steps(view)} == {("tier_2", "sensitive")}, summary(view)


async def test_dealer_journey_runs_the_dealer_clocks_beside_the_centres_own(
    journey: Journey,
) -> None:
    before = await journey.metrics("escalation")
    dealer = "D-REL-001"
    body = case_body(
        external_ref="call-dealer-1", dealer_id=dealer, category="delivery", customer=customer()
    )
    await journey.open(body)
    await journey.do({"command": "acknowledge"})
    await journey.do({"command": "hand_to_dealer", "dealer_id": dealer})
    await journey.until(
        lambda v: "dealer_first_response" in {c["milestone"] for c in v["clocks"]},
        "the dealer's clocks running",
    )
    # The dealer misses its 6 s reply: the dealer-management team hears of it.
    view = await journey.until(
        lambda v: ("tier_1", "dealer_management") in delivered_to(v), "the dealer's tier 1"
    )
    assert ("dealer_first_response", 1, "tier_1", "sla_breach") in steps(view), summary(view)
    await journey.wait_notices(
        lambda n: ("dealer_first_response", "tier_1", "hooks/dealer_management")
        in map(notice_key, n),
        "dealer management's notice",
    )
    labels = {"milestone": "dealer_first_response"}
    assert metric(await journey.metrics("escalation"), "casegold_sla_breaches_total", **labels) == (
        metric(before, "casegold_sla_breaches_total", **labels) + 1
    )
    # It replies late, agrees a solution in time, and the centre resolves.
    await journey.do({"command": "dealer_responded"})
    await journey.do({"command": "dealer_agreed_solution"})
    await journey.do(resolve_body())
    view = await journey.until(lambda v: v["status"] == "resolved", "resolved")
    clocks = {c["milestone"]: c["status"] for c in view["clocks"]}
    assert clocks["dealer_first_response"] == "breached", clocks
    assert clocks["dealer_solution_agreed"] == "met", clocks
    assert clocks["first_response"] == "met", clocks
    # Only the dealer's clock escalated, and only to dealer management.
    assert {s[0] for s in steps(view)} == {"dealer_first_response"}, summary(view)
    audiences = {a for e in view["escalations"] for a in e["audiences"]}
    assert audiences == {"dealer_management"}, summary(view)


async def test_the_dealer_report_shows_the_dealers_case_and_its_compliance(
    journey: Journey,
) -> None:
    dealer = "D-REL-002"
    await journey.open(
        case_body(external_ref="call-dealer-2", dealer_id=dealer, customer=customer())
    )
    await journey.do({"command": "hand_to_dealer", "dealer_id": dealer})
    await journey.do({"command": "dealer_responded"})
    await journey.until(lambda v: v["dealer_id"] == dealer, "the dealer case projected")
    report = await journey.client.get(
        f"{journey.stack.url('reporting')}/v1/reports/dealers",
        headers={"Authorization": "Bearer dev-manager-key"},
        timeout=10,
    )
    assert report.status_code == 200, report.text
    assert dealer in report.text
