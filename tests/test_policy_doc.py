"""docs/policy.md stays true: its full examples load, its tables hold, it names every key."""

from __future__ import annotations

import re
import types
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import BaseModel

from casegold_sla import PolicyError, PolicySet, add_business, load_policy_text, parse_duration
from casegold_sla.policy_schema import PolicyFileSpec
from casegold_sla.recipients_schema import RecipientsFileSpec

DOC = Path(__file__).resolve().parent.parent / "docs" / "policy.md"
TEXT = DOC.read_text(encoding="utf-8")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def blocks(info: str) -> list[str]:
    """The fenced code blocks whose info string is exactly `info`."""
    pattern = rf"^```{re.escape(info)}\n(.*?)^```"
    return re.findall(pattern, TEXT, re.DOTALL | re.MULTILINE)


def full_examples() -> list[str]:
    return blocks("yaml full-example")


def complete_example() -> PolicySet:
    return load_policy_text(full_examples()[0], f"{DOC.name}, the complete example")


def table_after(marker: str) -> list[list[str]]:
    """The rows (cells stripped) of the markdown table right after an HTML comment marker."""
    start = TEXT.index(f"<!-- {marker}")
    lines = TEXT[start:].splitlines()[1:]
    rows = []
    for line in lines[2:]:  # header and separator
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert rows, f"no table after <!-- {marker}"
    return rows


@pytest.mark.parametrize("index", range(len(full_examples())))
def test_every_full_example_loads_with_the_real_loader(index: int) -> None:
    policies = load_policy_text(full_examples()[index], f"{DOC.name}, full example {index + 1}")
    assert policies.default.name in {p.name for p in policies.policies}


def test_there_are_full_examples_and_the_complete_one_has_every_section() -> None:
    assert len(full_examples()) >= 2
    document = yaml.safe_load(full_examples()[0])
    known = set(PolicyFileSpec.model_fields) | set(RecipientsFileSpec.model_fields)
    assert set(document) == known


def test_every_other_yaml_block_is_valid_yaml() -> None:
    for block in blocks("yaml"):
        yaml.safe_load(block)


def test_the_complete_example_behaves_as_its_comments_say() -> None:
    policies = complete_example()
    common: dict[str, Any] = {"category": "product", "channel": "ivr", "dealer_id": None}
    assert policies.select(priority="P3", sensitive=True, **common).name == "press_and_lawyers"
    letter = {**common, "channel": "letter"}
    assert policies.select(priority="P4", sensitive=False, **letter).name == "letters"
    assert policies.select(priority="P1", sensitive=False, **letter).name == "standard"
    assert policies.default_priority(sensitive=True, **common) == "P2"
    billing = {**common, "category": "billing", "channel": "social"}
    assert policies.default_priority(sensitive=False, **billing) == "P2"
    assert policies.default_priority(sensitive=False, **common) == "P3"
    recipients = policies.recipients
    assert [r.name for r in recipients.for_notice("department_manager", "tier_2")] == [
        "team-leads",
        "service-manager",
    ]


def _local(text: str, zone: ZoneInfo) -> datetime:
    weekday, rest = text.split(" ", 1)
    moment = datetime.fromisoformat(rest).replace(tzinfo=zone)
    assert WEEKDAYS[moment.weekday()] == weekday, f"{text}: not a {weekday}"
    return moment


def test_the_overnight_calendar_table_is_what_the_calendar_computes() -> None:
    marker = "calendar-examples: night_desk"
    calendar = complete_example().calendars["night_desk"]
    zone = ZoneInfo(calendar.timezone)
    rows = table_after(marker)
    assert len(rows) >= 5
    for start, amount, due, _why in rows:
        duration = timedelta(microseconds=parse_duration(amount))
        result = add_business(calendar, _local(start, zone), duration)
        assert result == _local(due, zone), f"{start} + {amount}: {result.astimezone(zone)}"


def test_the_keyword_table_is_what_intake_finds() -> None:
    policies = complete_example()
    rows = table_after("keyword-examples")
    assert any(found == "—" for _, found in rows) and any(found != "—" for _, found in rows)
    for text, found in rows:
        expected = () if found == "—" else tuple(re.findall(r"`([^`]+)`", found))
        assert policies.sensitive_reasons(text.strip("`")) == expected, text


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field's annotation (through lists, maps, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models(get_args(annotation)[0])
    if origin in (list, dict, tuple, Union, types.UnionType):
        return [model for arg in get_args(annotation) for model in _models(arg)]
    return []


def _keys(model: type[BaseModel], path: str, seen: set[type[BaseModel]]) -> list[str]:
    """Every key of the file below `model`, as `path.key` (aliases as written in YAML)."""
    keys = []
    for name, field in model.model_fields.items():
        written = field.alias or name
        keys.append(f"{path}{written}")
        for inner in _models(field.annotation):
            if inner not in seen:
                keys += _keys(inner, f"{path}{written}.", seen | {inner})
    return keys


def test_every_top_level_key_has_its_own_section() -> None:
    headings = set(re.findall(r"^### `([a-z_]+)`$", TEXT, re.MULTILINE))
    known = set(PolicyFileSpec.model_fields) | set(RecipientsFileSpec.model_fields)
    assert known - headings == set(), "top-level keys without a `### `key`` section"


def test_every_key_the_schema_knows_is_mentioned() -> None:
    keys = _keys(PolicyFileSpec, "", set()) + _keys(RecipientsFileSpec, "", set())
    assert len(keys) > 60
    missing = [key for key in keys if f"`{key.rsplit('.', 1)[-1]}" not in TEXT]
    assert missing == [], "keys of the policy schema that docs/policy.md does not mention"


def test_the_key_walk_finds_nested_keys() -> None:
    keys = set(_keys(PolicyFileSpec, "", set()) + _keys(RecipientsFileSpec, "", set()))
    for key in (
        "calendars.hours.mon",
        "ladders.steps.when_sensitive",
        "special_periods.yearly.from",
        "follow_up.holidays_from",
        "recipients.quiet_hours.hold",
        "recipients.webhook.secret_env",
    ):
        assert key in keys, key


@pytest.mark.parametrize(
    "path",
    [
        ("policies", 0, "targets", "first_response"),
        ("ladders", "basic", "steps", 0, "repeat_every"),
        ("repeat_complainant", "within"),
        ("follow_up", "callback_lease"),
        ("follow_up", "unreachable_retry_interval"),
    ],
)
def test_the_durations_said_to_be_positive_refuse_0s(path: tuple[Any, ...]) -> None:
    assert "must be longer than `0s`" in TEXT
    document = yaml.safe_load(full_examples()[1])
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = "0s"
    with pytest.raises(PolicyError, match="longer than 0s"):
        load_policy_text(yaml.safe_dump(document, allow_unicode=True))


@pytest.mark.parametrize(
    ("section", "key"), [("follow_up", "revisit_delay"), ("follow_up", "callback_lead_time")]
)
def test_other_durations_accept_0s(section: str, key: str) -> None:
    document = yaml.safe_load(full_examples()[1])
    document[section][key] = "0s"
    assert load_policy_text(yaml.safe_dump(document, allow_unicode=True)) is not None
