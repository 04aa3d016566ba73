"""Settings come from CASEGOLD_* variables; a bad value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from casegold_platform.settings import (
    ConfigError,
    KafkaSettings,
    PolicySettings,
    PostgresSettings,
    load,
)
from casegold_sla import PolicyError


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CASEGOLD_KAFKA_BOOTSTRAP", "CASEGOLD_KAFKA_PARTITIONS", "CASEGOLD_PG_DSN"):
        monkeypatch.delenv(name, raising=False)
    assert load(KafkaSettings).bootstrap == "127.0.0.1:9092"
    assert load(KafkaSettings).partitions == 12
    assert load(PostgresSettings).dsn.endswith("@127.0.0.1:5432/casegold")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("CASEGOLD_KAFKA_PARTITIONS", "24")
    settings = load(KafkaSettings)
    assert (settings.bootstrap, settings.partitions) == ("k1:9092,k2:9092", 24)


@pytest.mark.parametrize(
    ("variable", "value", "settings_type"),
    [
        ("CASEGOLD_KAFKA_PARTITIONS", "zero", KafkaSettings),
        ("CASEGOLD_KAFKA_PARTITIONS", "0", KafkaSettings),
        ("CASEGOLD_KAFKA_BOOTSTRAP", "no-port", KafkaSettings),
        ("CASEGOLD_PG_DSN", "mysql://x", PostgresSettings),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, settings_type: type
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load(settings_type)
    assert variable in str(error.value)
    assert repr(value) in str(error.value)


def test_the_policy_file_defaults_to_the_shipped_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEGOLD_POLICY_FILE", raising=False)
    monkeypatch.chdir(Path(__file__).parents[3])
    settings = load(PolicySettings)
    assert settings.policy_file == Path("deploy/policy/default.yaml")
    assert settings.load().source == "deploy/policy/default.yaml"


def test_a_missing_policy_file_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CASEGOLD_POLICY_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(PolicyError, match=r"absent\.yaml"):
        load(PolicySettings).load()


def test_a_configuration_error_never_prints_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_PG_DSN", "mysql://casegold:s3cret-pass@db:5432/casegold")
    with pytest.raises(ConfigError) as caught:
        load(PostgresSettings)
    assert "s3cret-pass" not in str(caught.value)
    assert "CASEGOLD_PG_DSN" in str(caught.value)
    assert "mysql://casegold:***@db:5432/casegold" in str(caught.value)


def test_the_policy_file_comes_from_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text((Path(__file__).parents[3] / "deploy/policy/fast.yaml").read_text())
    monkeypatch.setenv("CASEGOLD_POLICY_FILE", str(path))
    assert load(PolicySettings).load().source == str(path)
