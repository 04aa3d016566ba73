"""Escalation ladders as written in the policy file, and their resolution against a target."""

import re
from dataclasses import dataclass
from typing import Final, Literal

from casegold_sla.durations import parse_duration
from casegold_sla.rules import STEP_TIERS, StepRule

_AT = re.compile(r"(?:(?P<breach>breach)\s*(?:(?P<sign>[+-])\s*(?P<amount>\S+))?|(?P<plain>\S+))")
AT_HINT: Final = "expected 75%, 30m, breach, breach + 25% or breach - 1h"


@dataclass(frozen=True, slots=True)
class StepOffset:
    """Where a step sits: a share of the target or a duration, from the start or the breach."""

    anchor: Literal["start", "breach"]
    sign: int
    percent: float | None
    duration: int | None

    def resolve(self, target: int, minimum: int | None) -> int:
        """Return the offset from the milestone start for this target, never below zero."""
        amount = round(target * self.percent / 100) if self.percent is not None else 0
        amount = self.duration if self.duration is not None else amount
        if minimum is not None:
            amount = max(amount, minimum)
        base = target if self.anchor == "breach" else 0
        return max(0, base + self.sign * amount)


def parse_at(text: str) -> StepOffset:
    """Parse a step's `at:` value (`75%`, `30m`, `breach`, `breach + 25%`, `breach - 1h`)."""
    match = _AT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"bad step time {text!r}: {AT_HINT}")
    if match["breach"]:
        if match["amount"] is None:
            return StepOffset("breach", 1, None, 0)
        percent, duration = _amount(match["amount"], text)
        return StepOffset("breach", -1 if match["sign"] == "-" else 1, percent, duration)
    percent, duration = _amount(match["plain"], text)
    return StepOffset("start", 1, percent, duration)


def _amount(text: str, whole: str) -> tuple[float | None, int | None]:
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            raise ValueError(f"bad step time {whole!r}: {AT_HINT}") from None
        if not 0 <= percent <= 1000:
            raise ValueError(f"bad step time {whole!r}: percentages run from 0% to 1000%")
        return percent, None
    try:
        return None, parse_duration(text)
    except ValueError:
        raise ValueError(f"bad step time {whole!r}: {AT_HINT}") from None


@dataclass(frozen=True, slots=True)
class LadderStep:
    """A step of a ladder as configured, before it meets a target."""

    step: str
    at: StepOffset
    audience: tuple[str, ...]
    minimum: int | None = None
    when_sensitive: tuple[str, ...] = ()
    repeat_every: int | None = None
    max_repeats: int | None = None


@dataclass(frozen=True, slots=True)
class Ladder:
    """A named, ordered list of ladder steps."""

    name: str
    steps: tuple[LadderStep, ...]

    def resolve(self, target: int, *, sensitive: bool, start_tier: int = 0) -> tuple[StepRule, ...]:
        """Return the steps with offsets for `target`, ordered by offset."""
        # With `start_tier` > 0 (special periods) the steps below that tier are dropped and
        # the lowest remaining tier moves up to the earliest dropped step's point: with the
        # default ladder, tier_1 fires where the warning would have (decision 0013).
        offsets = [step.at.resolve(target, step.minimum) for step in self.steps]
        kept = [i for i, step in enumerate(self.steps) if STEP_TIERS[step.step] >= start_tier]
        dropped = [offsets[i] for i, step in enumerate(self.steps) if i not in kept]
        if dropped and kept:
            first = min(kept, key=lambda i: (STEP_TIERS[self.steps[i].step], offsets[i]))
            offsets[first] = min(offsets[first], *dropped)
        # Level by level (逐级): a higher tier never fires before a lower one. With a short
        # target, tier_2's minimum can put it after tier_3; tier_3 then waits for tier_2.
        latest = 0
        for i in sorted(kept, key=lambda i: STEP_TIERS[self.steps[i].step]):
            offsets[i] = latest = max(offsets[i], latest)
        rules = [self._rule(self.steps[i], offsets[i], target, sensitive) for i in kept]
        return tuple(sorted(rules, key=lambda rule: rule.offset))

    @staticmethod
    def _rule(step: LadderStep, offset: int, target: int, sensitive: bool) -> StepRule:
        audience = step.audience + (step.when_sensitive if sensitive else ())
        return StepRule(
            step=step.step,
            tier=STEP_TIERS[step.step],
            offset=offset,
            audience=tuple(dict.fromkeys(audience)),
            reason="sla_warning" if offset < target else "sla_breach",
            repeat_every=step.repeat_every,
            max_repeats=step.max_repeats,
        )
