"""Configuration is checked at start-up; a bad value names its variable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from casegold_intake.settings import IntakeSettings
from casegold_platform.http import DEV_KEYS, KeyRing
from casegold_platform.settings import ConfigError, load


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_KEYS", "API_KEYS_FILE", "DEV_KEYS", "CUSTOMER_KEY_SALT", "CATEGORIES"):
        monkeypatch.delenv(f"CASEGOLD_INTAKE_{name}", raising=False)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_refuses_to_start_without_keys() -> None:
    with pytest.raises(ConfigError, match="CASEGOLD_INTAKE_API_KEYS"):
        load(IntakeSettings)


def test_refuses_to_start_without_a_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_INTAKE_API_KEYS", "[]")
    with pytest.raises(ConfigError, match="CUSTOMER_KEY_SALT"):
        load(IntakeSettings)


def test_dev_flag_provides_the_documented_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_INTAKE_DEV_KEYS", "true")
    keyring = KeyRing(load(IntakeSettings).key_entries())
    for key, (client, role) in DEV_KEYS.items():
        principal = keyring.identify(key)
        assert principal is not None and (principal.client, principal.role) == (client, role)
    assert keyring.identify("dev-ivr-key ") is None


def test_keys_from_a_json_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [{"client": "ivr-gw", "role": "ivr", "sha256": digest("s3cret").upper()}]
    monkeypatch.setenv("CASEGOLD_INTAKE_API_KEYS", json.dumps(entries))
    monkeypatch.setenv("CASEGOLD_INTAKE_CUSTOMER_KEY_SALT", "pepper")
    settings = load(IntakeSettings)
    principal = KeyRing(settings.key_entries()).identify("s3cret")
    assert principal is not None and principal.client == "ivr-gw"
    assert settings.salt() == "pepper"
    assert "s3cret" not in repr(settings) and "pepper" not in repr(settings)


def test_keys_from_a_yaml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"- client: desk-1\n  role: agent\n  sha256: {digest('k1')}\n")
    monkeypatch.setenv("CASEGOLD_INTAKE_API_KEYS_FILE", str(path))
    monkeypatch.setenv("CASEGOLD_INTAKE_CUSTOMER_KEY_SALT", "pepper")
    principal = KeyRing(load(IntakeSettings).key_entries()).identify("k1")
    assert principal is not None and principal.role == "agent"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not: [a list", "not valid YAML"),
        ('{"client": "x"}', "expected a list"),
        ('[{"client": "x", "role": "ivr", "sha256": "abc"}]', "64 hex digits"),
        ('[{"client": "x", "role": "root", "sha256": "' + "0" * 64 + '"}]', "role"),
    ],
)
def test_bad_key_lists_stop_the_start(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("CASEGOLD_INTAKE_API_KEYS", value)
    monkeypatch.setenv("CASEGOLD_INTAKE_CUSTOMER_KEY_SALT", "pepper")
    with pytest.raises(ConfigError, match=message):
        load(IntakeSettings)


def test_a_key_listed_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = {"client": "a", "role": "ivr", "sha256": digest("dup")}
    monkeypatch.setenv("CASEGOLD_INTAKE_API_KEYS", json.dumps([entry, {**entry, "client": "b"}]))
    monkeypatch.setenv("CASEGOLD_INTAKE_CUSTOMER_KEY_SALT", "pepper")
    with pytest.raises(ConfigError, match="twice"):
        load(IntakeSettings)


def test_categories_and_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_INTAKE_DEV_KEYS", "1")
    monkeypatch.setenv("CASEGOLD_INTAKE_CATEGORIES", "product, billing")
    assert load(IntakeSettings).categories == ("product", "billing")
    monkeypatch.setenv("CASEGOLD_INTAKE_SEND_TIMEOUT_SECONDS", "30")
    with pytest.raises(ConfigError, match="CASEGOLD_INTAKE_SEND_TIMEOUT_SECONDS"):
        load(IntakeSettings)


def test_retention_is_at_least_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_INTAKE_DEV_KEYS", "1")
    monkeypatch.setenv("CASEGOLD_INTAKE_IDEMPOTENCY_RETENTION_HOURS", "2")
    with pytest.raises(ConfigError, match="IDEMPOTENCY_RETENTION_HOURS"):
        load(IntakeSettings)
