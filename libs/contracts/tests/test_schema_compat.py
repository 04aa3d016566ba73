"""Committed JSON Schemas: up to date, and every change backward compatible."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from casegold_contracts import EVENT_TYPES, dump
from casegold_contracts.builders import make_event
from casegold_contracts.compat import breaking_changes
from casegold_contracts.schemas import (
    SCHEMA_DIR,
    event_schema,
    incompatibilities,
    main,
    schema_filename,
    stale_files,
)

CURRENT = sorted(EVENT_TYPES)
REGENERATE = "run: python -m casegold_contracts.schemas write"


def committed(event_type: str) -> dict[str, Any]:
    path = SCHEMA_DIR / schema_filename(event_type, EVENT_TYPES[event_type].version)
    assert path.exists(), f"{event_type}: no committed schema {path.name} ({REGENERATE})"
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


@pytest.mark.parametrize("event_type", CURRENT)
def test_current_schema_is_backward_compatible(event_type: str) -> None:
    changes = breaking_changes(committed(event_type), event_schema(event_type))
    assert not changes, f"{event_type} has breaking changes: " + "; ".join(changes)


def test_no_committed_type_disappeared() -> None:
    gone = [problem for problem in incompatibilities() if "no longer exists" in problem]
    assert not gone, "; ".join(gone)


def test_committed_schemas_are_up_to_date() -> None:
    # Catches a compatible change whose schema was never written and committed.
    assert not stale_files(), f"stale schema files {stale_files()} ({REGENERATE})"


@pytest.mark.parametrize("event_type", CURRENT)
def test_wire_form_satisfies_the_committed_schema(event_type: str) -> None:
    validator = Draft202012Validator(committed(event_type))
    validator.validate(json.loads(dump(make_event(event_type))))


OLD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "count": {"type": "integer", "minimum": 0},
        "note": {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]},
        "kind": {"enum": ["a", "b"], "type": "string"},
        "customer": {"$ref": "#/$defs/Customer"},
    },
    "required": ["id", "count", "kind", "customer"],
    "$defs": {
        "Customer": {
            "type": "object",
            "properties": {"phone": {"type": "string"}, "name": {"type": "string"}},
            "required": ["phone"],
        }
    },
}


def changed(edit: Any) -> list[str]:
    new = copy.deepcopy(OLD)
    edit(new)
    return breaking_changes(OLD, new)


def test_comparator_accepts_identical_and_optional_additions() -> None:
    assert breaking_changes(OLD, copy.deepcopy(OLD)) == []

    def add_optional(schema: dict[str, Any]) -> None:
        schema["properties"]["channel"] = {"type": "string"}
        schema["$defs"]["Customer"]["properties"]["locale"] = {"type": "string"}
        schema["properties"]["kind"]["enum"].append("c")
        schema["properties"]["note"]["anyOf"][0]["maxLength"] = 200

    assert changed(add_optional) == []


def test_comparator_rejects_a_deliberately_breaking_schema() -> None:
    def break_it(schema: dict[str, Any]) -> None:
        del schema["properties"]["count"]
        schema["properties"]["region"] = {"type": "string"}
        schema["required"].append("region")
        schema["properties"]["id"] = {"type": "integer"}

    problems = changed(break_it)
    assert "count: property removed" in problems
    assert "region: new required property" in problems
    assert "id: type changed from string to integer" in problems


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["properties"]["kind"]["enum"].remove("b"), "kind: enum value(s) removed"),
        (lambda s: s["required"].append("note"), "note: optional property became required"),
        (
            lambda s: s["$defs"]["Customer"]["properties"].pop("phone"),
            "customer.phone: property removed",
        ),
        (
            lambda s: s["$defs"]["Customer"]["required"].append("name"),
            "customer.name: optional property became required",
        ),
        (
            lambda s: s["properties"]["note"].update(anyOf=[{"type": "string"}]),
            "note: type changed from null|string to string",
        ),
        (
            lambda s: s["properties"]["note"]["anyOf"][0].update(maxLength=10),
            "note: maxLength tightened",
        ),
        (lambda s: s["properties"]["count"].update(minimum=1), "count: minimum tightened"),
    ],
)
def test_comparator_names_each_breaking_change(edit: Any, expected: str) -> None:
    problems = changed(edit)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_real_schema_breaking_change_is_reported_with_its_path() -> None:
    old = event_schema("case_opened")
    new = copy.deepcopy(old)
    del new["$defs"]["CaseOpenedPayload"]["properties"]["summary"]
    assert breaking_changes(old, new) == ["payload.summary: property removed"]


def test_cli_writes_checks_and_refuses_breaking_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--dir", str(tmp_path)]) == 1
    assert main(["write", "--dir", str(tmp_path)]) == 0
    assert main(["check", "--dir", str(tmp_path)]) == 0

    # A committed schema with a field the model no longer has: the model dropped it.
    path = tmp_path / schema_filename("case_assigned", 1)
    schema = json.loads(path.read_text())
    schema["$defs"]["CaseAssignedPayload"]["properties"]["team"] = {"type": "string"}
    path.write_text(json.dumps(schema))
    (tmp_path / "case_teleported.v1.json").write_text("{}")
    capsys.readouterr()

    assert main(["check", "--dir", str(tmp_path)]) == 1
    output = capsys.readouterr().out
    assert "case_assigned: payload.team: property removed" in output
    assert "case_teleported: type has a committed schema but no longer exists" in output
    assert main(["write", "--dir", str(tmp_path)]) == 1
    assert json.loads(path.read_text()) == schema
