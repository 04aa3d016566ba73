"""promtool checks the scrape configurations and rules, and runs the alerts' unit tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.metric_names import known, unknown_in
from tests.ops.tools import DEPLOY, ROOT, run, tool

PROMETHEUS = DEPLOY / "prometheus"
CONFIGS = ("prometheus.yml", "prometheus.compose.yml")
SERVICES = {
    "intake": 8081,
    "escalation": 8082,
    "followup": 8083,
    "reporting": 8084,
    "notifier": 8085,
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_names() -> list[str]:
    groups = load(PROMETHEUS / "alerts.yml")["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


def alerts_under_test() -> set[str]:
    names: set[str] = set()
    for path in sorted((PROMETHEUS / "tests").glob("*.yml")):
        for case in load(path)["tests"]:
            names |= {check["alertname"] for check in case.get("alert_rule_test", [])}
    return names


def fired_alert_names() -> set[str]:
    """Alerts that some unit test expects to fire (not only to stay quiet)."""
    names: set[str] = set()
    for path in sorted((PROMETHEUS / "tests").glob("*.yml")):
        for case in load(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    names.add(check["alertname"])
    return names


@pytest.mark.parametrize("config", CONFIGS)
def test_promtool_accepts_the_config_and_its_rule_files(config: str) -> None:
    output = run(tool("promtool"), "check", "config", config, cwd=PROMETHEUS)
    assert "2 rule files found" in output


def test_promtool_accepts_the_rules() -> None:
    output = run(tool("promtool"), "check", "rules", "recording.yml", "alerts.yml", cwd=PROMETHEUS)
    assert output.count("SUCCESS") == 2


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    files = sorted(
        str(path.relative_to(PROMETHEUS)) for path in (PROMETHEUS / "tests").glob("*.yml")
    )
    assert files, "no promtool unit tests under deploy/prometheus/tests"
    output = run(tool("promtool"), "test", "rules", *files, cwd=PROMETHEUS)
    assert output.count("SUCCESS") == len(files)


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    alerts = set(alert_names())
    assert alerts - fired_alert_names() == set(), "alerts no unit test fires"
    assert alerts_under_test() <= alerts, "unit tests of alerts that do not exist"


def test_alert_names_are_unique_and_each_has_a_runbook_section() -> None:
    names = alert_names()
    assert len(names) == len(set(names))
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9-]", "", line[4:].strip().lower())
        for line in runbook.splitlines()
        if line.startswith("### ")
    }
    for group in load(PROMETHEUS / "alerts.yml")["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            url = rule["annotations"]["runbook_url"]
            assert url == f"docs/runbook.md#{rule['alert'].lower()}", rule["alert"]
            assert rule["alert"].lower() in anchors, f"docs/runbook.md has no ### {rule['alert']}"


@pytest.mark.parametrize("config", CONFIGS)
def test_every_service_is_scraped_on_its_port_with_a_service_label(config: str) -> None:
    jobs = {job["job_name"]: job for job in load(PROMETHEUS / config)["scrape_configs"]}
    for service, port in SERVICES.items():
        (target_group,) = jobs[service]["static_configs"]
        assert target_group["labels"] == {"service": service}
        (target,) = target_group["targets"]
        host = "127.0.0.1" if config == "prometheus.yml" else service
        assert target == f"{host}:{port}"


@pytest.mark.parametrize("rules", ["recording.yml", "alerts.yml"])
def test_every_metric_a_rule_uses_is_a_known_name(rules: str) -> None:
    names = known()
    problems = {
        rule.get("alert", rule.get("record")): unknown_in(rule["expr"], names)
        for group in load(PROMETHEUS / rules)["groups"]
        for rule in group["rules"]
        if unknown_in(rule["expr"], names)
    }
    assert problems == {}
