"""Reporting settings: defaults that run on the local stack, bad values named by variable."""

from __future__ import annotations

import pytest

from casegold_platform.settings import ConfigError, load
from casegold_reporting.settings import ReportingSettings


def test_defaults_serve_on_8084_and_project() -> None:
    settings = load(ReportingSettings)
    assert (settings.port, settings.project, settings.pages_public) == (8084, True, True)
    assert settings.case_events_topic == "complaints.case-events"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CASEGOLD_REPORTING_PORT", "80000"),
        ("CASEGOLD_REPORTING_POLL_MAX_RECORDS", "0"),
        ("CASEGOLD_REPORTING_LOG_LEVEL", "LOUD"),
        ("CASEGOLD_REPORTING_PAGES_PUBLIC", "perhaps"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load(ReportingSettings)


def test_dev_keys_are_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(ReportingSettings).key_entries() == ()
    monkeypatch.setenv("CASEGOLD_REPORTING_DEV_KEYS", "true")
    assert {e.role for e in load(ReportingSettings).key_entries()} >= {"agent", "manager", "ops"}
