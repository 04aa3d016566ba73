"""One-click acknowledgement tokens: only the signer's untouched, unexpired tokens verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from casegold_platform.ack_links import AckLinkSettings, AckSigner, BadToken
from casegold_platform.settings import ConfigError, load

ISSUED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
SIGNER = AckSigner(b"0123456789abcdef-test-secret", timedelta(hours=72))
ESCALATION, CASE = UUID(int=1), UUID(int=2)
recipients = st.text(min_size=1, max_size=200).filter(lambda r: "\x00" not in r)


@given(recipient=recipients, escalation=st.uuids(), case=st.uuids())
def test_a_signed_token_verifies_to_what_was_signed(
    recipient: str, escalation: UUID, case: UUID
) -> None:
    token = SIGNER.sign(escalation, case, recipient, ISSUED)
    claim = SIGNER.verify(token, ISSUED + timedelta(hours=71, minutes=59))
    assert (claim.escalation_id, claim.case_id, claim.recipient) == (escalation, case, recipient)
    assert claim.expires_at == ISSUED + timedelta(hours=72)


def test_a_token_expires_after_its_ttl() -> None:
    token = SIGNER.sign(ESCALATION, CASE, "dept-manager", ISSUED)
    with pytest.raises(BadToken) as error:
        SIGNER.verify(token, ISSUED + timedelta(hours=72))
    assert error.value.reason == "expired"


@given(position=st.integers(min_value=0), replacement=st.characters())
@example(position=0, replacement="\ud800")  # a lone surrogate: once a UnicodeEncodeError
def test_any_altered_character_is_refused(position: int, replacement: str) -> None:
    token = SIGNER.sign(ESCALATION, CASE, "dept-manager", ISSUED)
    at = position % len(token)
    altered = token[:at] + replacement + token[at + 1 :]
    if altered == token:
        return
    with pytest.raises(BadToken):
        SIGNER.verify(altered, ISSUED)


def test_every_other_last_character_of_the_signature_is_refused() -> None:
    token = SIGNER.sign(ESCALATION, CASE, "dept-manager", ISSUED)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for char in alphabet.replace(token[-1], ""):
        with pytest.raises(BadToken):
            SIGNER.verify(token[:-1] + char, ISSUED)


def test_a_token_of_another_key_is_refused_as_forged() -> None:
    other = AckSigner(b"another-secret-of-16-bytes", timedelta(hours=72))
    with pytest.raises(BadToken) as error:
        SIGNER.verify(other.sign(ESCALATION, CASE, "dept-manager", ISSUED), ISSUED)
    assert error.value.reason == "signature"


def test_a_forged_claim_with_the_old_signature_is_refused() -> None:
    token = SIGNER.sign(ESCALATION, CASE, "dept-manager", ISSUED)
    forged = SIGNER.sign(uuid4(), CASE, "ceo", ISSUED).split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(BadToken) as error:
        SIGNER.verify(forged, ISSUED)
    assert error.value.reason == "signature"


@given(garbage=st.text(max_size=700))
def test_garbage_is_a_bad_token_never_another_error(garbage: str) -> None:
    with pytest.raises(BadToken):
        SIGNER.verify(garbage, ISSUED)


def test_links_are_off_without_a_secret_and_a_short_secret_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CASEGOLD_ACK_LINK_SECRET", raising=False)
    assert load(AckLinkSettings).signer() is None
    monkeypatch.setenv("CASEGOLD_ACK_LINK_SECRET", "short")
    with pytest.raises(ConfigError) as error:
        load(AckLinkSettings)
    assert "CASEGOLD_ACK_LINK_SECRET" in str(error.value) and "short" not in str(error.value)
