"""The worker's settings refuse group timings that would make it drop out of its group."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from casegold_escalation.settings import EscalationSettings


def test_defaults_give_a_dead_worker_s_partitions_away_within_ten_seconds() -> None:
    settings = EscalationSettings()
    assert settings.session_timeout == 10.0
    assert settings.heartbeat_interval * 3 <= settings.session_timeout


def test_a_heartbeat_slower_than_a_third_of_the_session_is_refused() -> None:
    with pytest.raises(ValidationError, match="heartbeat_interval must be at most a third"):
        EscalationSettings(session_timeout=10, heartbeat_interval=4)


def test_a_session_below_the_broker_s_minimum_is_refused() -> None:
    with pytest.raises(ValidationError, match="session_timeout"):
        EscalationSettings(session_timeout=3, heartbeat_interval=1)


def test_standby_replicas_default_to_one_and_reach_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    from casegold_escalation.app import make_app
    from casegold_platform.settings import KafkaSettings

    assert EscalationSettings().standby_replicas == 1
    monkeypatch.setenv("CASEGOLD_ESCALATION_STANDBY_REPLICAS", "2")
    settings = EscalationSettings()
    assert make_app(settings, KafkaSettings()).conf.table_standby_replicas == 2
    monkeypatch.setenv("CASEGOLD_ESCALATION_STANDBY_REPLICAS", "-1")
    with pytest.raises(ValidationError, match="standby_replicas"):
        EscalationSettings()
