"""Follow-up settings: defaults, a bad value naming its variable, no keys refused."""

from __future__ import annotations

import pytest

from casegold_followup.settings import FollowupSettings
from casegold_platform.settings import ConfigError, load


def test_defaults_with_dev_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_FOLLOWUP_DEV_KEYS", "true")
    settings = load(FollowupSettings)
    assert (settings.host, settings.port, settings.group_id) == (
        "127.0.0.1",
        8083,
        "casegold-followup",
    )
    assert {entry.role for entry in settings.key_entries()} >= {"revisit_agent", "agent"}


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEGOLD_FOLLOWUP_DEV_KEYS", "true")
    monkeypatch.setenv("CASEGOLD_FOLLOWUP_PORT", "eighty")
    with pytest.raises(ConfigError, match="CASEGOLD_FOLLOWUP_PORT"):
        load(FollowupSettings)


def test_no_keys_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DEV_KEYS", "API_KEYS", "API_KEYS_FILE"):
        monkeypatch.delenv(f"CASEGOLD_FOLLOWUP_{name}", raising=False)
    with pytest.raises(ConfigError, match="no API keys"):
        load(FollowupSettings)
