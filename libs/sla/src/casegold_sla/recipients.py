"""Who the notifier tells about an escalation, per audience and step (the `recipients` section)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from casegold_sla.contact import window_end
from casegold_sla.rules import STEP_TIERS

ChannelKind = Literal["webhook", "slack", "email"]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A JSON webhook; exactly one of `secret` and `secret_env` (a variable the notifier reads)."""

    url: str
    secret: str | None = None
    secret_env: str | None = None


@dataclass(frozen=True, slots=True)
class SlackTarget:
    """A Slack-compatible incoming webhook; exactly one of `url` and `url_env`."""

    url: str | None = None
    url_env: str | None = None


@dataclass(frozen=True, slots=True)
class EmailTarget:
    """Addresses of one e-mail notice."""

    to: tuple[str, ...]


Target = WebhookTarget | SlackTarget | EmailTarget


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily quiet period: local seconds from midnight; `end` passes a day when overnight."""

    timezone: str
    start: int
    end: int
    hold: frozenset[str] = frozenset({"warning"})

    def until(self, now: datetime) -> datetime | None:
        """The end of the quiet period `now` falls in, or None outside every quiet period."""
        return window_end((self.start, self.end), self.timezone, now)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient on one channel; `name` is its identity in the delivery log."""

    name: str
    target: Target
    steps: frozenset[str] | None = None
    quiet_hours: QuietHours | None = None

    @property
    def channel(self) -> ChannelKind:
        """The channel kind, e.g. for metric labels."""
        if isinstance(self.target, WebhookTarget):
            return "webhook"
        return "slack" if isinstance(self.target, SlackTarget) else "email"

    def held_until(self, step: str, now: datetime) -> datetime | None:
        """When a notice of `step` read at `now` may go, if it must wait for quiet hours to end."""
        quiet = self.quiet_hours
        # Tiers 2 and 3 always go at once, whatever a recipient's quiet hours say.
        if quiet is None or step not in quiet.hold or STEP_TIERS.get(step, 0) >= 2:
            return None
        return quiet.until(now)

    def takes(self, step: str) -> bool:
        """Whether the recipient is told about this step (all steps unless `steps` limits it)."""
        return self.steps is None or step in self.steps


@dataclass(frozen=True, slots=True)
class RecipientBook:
    """Recipients per audience; empty when the policy file has no `recipients` section."""

    by_audience: Mapping[str, tuple[Recipient, ...]] = field(default_factory=dict)

    def for_notice(self, audience: str, step: str) -> tuple[Recipient, ...]:
        """The recipients of one `escalation_raised` (its audience and step)."""
        return tuple(r for r in self.by_audience.get(audience, ()) if r.takes(step))

    def all(self) -> tuple[Recipient, ...]:
        """Every distinct recipient, in file order."""
        seen: dict[str, Recipient] = {}
        for recipients in self.by_audience.values():
            for recipient in recipients:
                seen.setdefault(recipient.name, recipient)
        return tuple(seen.values())
