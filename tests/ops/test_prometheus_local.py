"""The local stack's Prometheus configuration: the repository's rules, each service's port."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ops.tools import DEPLOY, run, tool
from tools.prometheus.config import config, local_targets, write


def test_each_target_follows_the_port_its_service_reads() -> None:
    env = {"CASEGOLD_INTAKE_PORT": "18081", "CASEGOLD_PROMETHEUS_PORT": "19090"}
    targets = local_targets(env)
    assert targets["intake"] == "127.0.0.1:18081"
    assert targets["prometheus"] == "127.0.0.1:19090"
    assert targets["notifier"] == "127.0.0.1:8085"
    scraped = {
        job["static_configs"][0]["labels"]["service"]: job["static_configs"][0]["targets"]
        for job in config(targets)["scrape_configs"]
    }
    assert scraped == {name: [address] for name, address in targets.items()}


def test_every_service_the_stack_starts_is_scraped() -> None:
    stack = (DEPLOY / "stack.sh").read_text()
    started = set(re.findall(r'"(\w+) \$\{CASEGOLD_\w+_PORT:-\d+\} casegold_', stack))
    assert started == {"intake", "escalation", "followup", "reporting", "notifier"}
    assert started <= set(local_targets({}))


def test_the_written_file_loads_the_repository_rules_and_passes_promtool(tmp_path: Path) -> None:
    path = write(tmp_path / "var" / "prometheus.yml", config(local_targets({})))
    loaded = config(local_targets({}))
    assert loaded["rule_files"] == [
        str(DEPLOY / "prometheus" / "recording.yml"),
        str(DEPLOY / "prometheus" / "alerts.yml"),
    ]
    output = run(tool("promtool"), "check", "config", str(path))
    assert "SUCCESS" in output


def test_a_target_without_a_job_is_refused() -> None:
    with pytest.raises(ValueError, match="sink"):
        config({"sink": "127.0.0.1:8180"})


def test_a_short_interval_for_tests_keeps_the_timeout_below_it() -> None:
    settings = config({"intake": "127.0.0.1:1"}, interval_seconds=1)["global"]
    assert settings["scrape_interval"] == settings["evaluation_interval"] == "1s"
    assert settings["scrape_timeout"] == "1s"
