"""docker-compose.yml cannot run here (no Docker engine); check it against the settings instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from casegold_contracts import topics
from casegold_platform.settings import ENV_PREFIX, KafkaSettings, PostgresSettings
from tests.support import repo_root


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(Path(repo_root(), "docker-compose.yml").read_text())
    return loaded


def settings_variables() -> set[str]:
    names = set()
    for settings_type in (KafkaSettings, PostgresSettings):
        prefix = str(settings_type.model_config.get("env_prefix", ""))
        names |= {(prefix + field).upper() for field in settings_type.model_fields}
    return names


def test_services_are_the_broker_its_topics_and_postgres() -> None:
    assert {"kafka", "topics", "postgres"} <= set(compose()["services"])


def test_every_casegold_variable_is_a_setting() -> None:
    env = compose()["x-casegold-env"]
    known = settings_variables() | {ENV_PREFIX + "POLICY_FILE"}
    assert set(env) <= known, f"unknown variables: {set(env) - known}"
    assert {"CASEGOLD_KAFKA_BOOTSTRAP", "CASEGOLD_PG_DSN", "CASEGOLD_KAFKA_PARTITIONS"} <= set(env)


def test_broker_matches_the_local_one() -> None:
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:3.9")
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in kafka
    assert "healthcheck" in compose()["services"]["postgres"]


def test_topics_job_creates_every_platform_topic() -> None:
    script = "\n".join(compose()["services"]["topics"]["command"])
    for name in (topics.CASE_EVENTS, topics.ESCALATIONS):
        assert name in script
