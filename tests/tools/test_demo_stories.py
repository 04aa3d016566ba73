"""The demo's stories are valid requests and cover what SPEC §3 and §4 want shown (pure)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from casegold_intake.commands import Command
from casegold_intake.models import CaseRequest, MentionRequest
from casegold_sla.policy_loader import load_policy
from tools.demo.scenario import plans
from tools.demo.stack import WrongPolicy, check_policy
from tools.notice_sink.settings import DEV_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


def test_every_case_and_command_of_the_stories_is_a_valid_request() -> None:
    for plan in plans(30, seed=7):
        model = MentionRequest if plan.endpoint == "/v1/mentions" else CaseRequest
        model.model_validate(plan.body)
        for action in (*plan.actions, *plan.after_reopen):
            body = dict(action.command)
            if body.pop("due_in_seconds", None) is not None:
                body["due_at"] = "2030-01-01T00:00:00Z"
            if body["command"] == "acknowledge_escalation":
                body["escalation_id"] = "5e0f4b7e-8f7a-4f57-9a59-3f9b8e2f1a01"
                assert action.role == "manager"
            COMMAND.validate_python(body)


def test_the_stories_cover_the_behaviours_the_demo_promises() -> None:
    chosen = plans(12, seed=0)
    assert len(chosen) == 12
    phones = Counter(p.body["customer"]["phone"] for p in chosen)
    assert phones.most_common(1)[0][1] == 2, "one repeat complainant"
    text = " ".join(str(p.body.get("summary", "")) + str(p.body.get("text", "")) for p in chosen)
    assert "记者" in text and "journalist" in text
    assert any(p.body.get("dealer_id") for p in chosen)
    assert {p.body.get("priority") for p in chosen} >= {"P1", "P3"}
    assert len({p.body.get("channel") for p in chosen}) >= 3
    commands = {a.command["command"] for p in chosen for a in p.actions}
    assert {"acknowledge", "contact_customer", "promise_callback", "keep_promise"} <= commands
    assert {"agree_solution", "resolve", "hand_to_dealer", "await_customer"} <= commands
    outcomes = {answer["outcome"] for p in chosen for answer in p.revisit}
    assert outcomes == {"satisfied", "unsatisfied", "unreachable", "wrong_number"}
    # The broken promise is never kept; the kept one is.
    for plan in chosen:
        made = {a.command.get("promise_id") for a in plan.actions if "due_in_seconds" in a.command}
        kept = {
            a.command["promise_id"] for a in plan.actions if a.command["command"] == "keep_promise"
        }
        assert kept <= made
    assert any(
        p.actions
        and not any(a.command["command"] == "keep_promise" for a in p.actions)
        and any("due_in_seconds" in a.command for a in p.actions)
        for p in chosen
    )


def test_the_same_seed_gives_the_same_stories() -> None:
    assert plans(9, seed=3) == plans(9, seed=3)
    assert plans(9, seed=3) != plans(9, seed=4)


def _reply(first_response_in: str) -> dict[str, object]:
    return {
        "policy": "standard",
        "priority": "P3",
        "opened_at": "2026-12-01T10:00:00+00:00",
        "due": {"first_response": first_response_in},
    }


def test_an_hour_scale_policy_is_refused_with_how_to_restart() -> None:
    with pytest.raises(WrongPolicy, match=r"CASEGOLD_POLICY_FILE=deploy/policy/demo.yaml"):
        check_policy(_reply("2026-12-01T22:00:00+00:00"))
    check_policy(_reply("2026-12-01T10:00:12+00:00"))


def test_the_demo_policy_is_fast_yaml_with_every_audience_at_the_sink() -> None:
    demo = yaml.safe_load((ROOT / "deploy/policy/demo.yaml").read_text(encoding="utf-8"))
    fast = yaml.safe_load((ROOT / "deploy/policy/fast.yaml").read_text(encoding="utf-8"))
    recipients = demo.pop("recipients")
    assert demo == fast
    book = load_policy(ROOT / "deploy/policy/demo.yaml").recipients
    ladder_audiences = {"owner", "team_lead", "department_manager", "director", "pr_legal"}
    assert set(recipients) == ladder_audiences | {"dealer_management"}
    for entries in recipients.values():
        for entry in entries:
            assert "quiet_hours" not in entry, "a night-time demo would hold its warnings"
            for channel in ("webhook", "slack"):
                if channel in entry:
                    assert entry[channel]["url"].startswith("http://127.0.0.1:8180/")
            if "webhook" in entry:
                assert entry["webhook"]["secret"] == DEV_WEBHOOK_SECRET
    assert set(book.by_audience) == set(recipients)
