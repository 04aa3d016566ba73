"""One demo run: open the cases at the chosen rate, act on them, answer revisits, collect."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from casegold_contracts import EscalationRaised
from casegold_platform.settings import KafkaSettings
from tools.demo.scenario import Action, CasePlan, plans
from tools.demo.stack import PARTS, Api, Endpoints, check_policy, check_ready
from tools.demo.watch import EscalationWatch, sink_notices


@dataclass
class Options:
    """What one run does, and where the stack is."""

    cases: int = 20
    rate: float = 2.0  # cases opened per second
    pace: float = 1.0  # multiplies every story's offsets (below 1: faster than the SLAs)
    seed: int = 0
    timeout: float = 180.0  # the whole run, start to summary
    skip: frozenset[str] = frozenset()
    endpoints: Endpoints = field(default_factory=Endpoints)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)


@dataclass
class Tracked:
    """One case of the run: its plan, intake's reply, and what happened to it."""

    plan: CasePlan
    case_id: str | None = None
    reply: dict[str, Any] = field(default_factory=dict)
    revisit_answers: list[str] = field(default_factory=list)

    def revisits_left(self) -> int:
        if self.case_id is None:
            return 0
        return max(0, len(self.plan.revisit) - len(self.revisit_answers))


@dataclass
class Result:
    """What the summary reports."""

    tracked: list[Tracked]
    escalations: list[EscalationRaised]
    notices: list[dict[str, Any]]
    failures: list[str]
    elapsed: float
    timed_out: bool
    skipped: frozenset[str]

    def case_ids(self) -> set[str]:
        return {t.case_id for t in self.tracked if t.case_id}


class Run:
    """The state of one run, shared by its tasks."""

    def __init__(self, options: Options, api: Api, progress: Progress) -> None:
        self.options, self.api, self.progress = options, api, progress
        self.run_id = uuid.uuid4().hex[:10]
        self.tracked = [Tracked(plan) for plan in plans(options.cases, options.seed)]
        self.failures: list[str] = []
        self.watch: EscalationWatch | None = None
        self.started = time.monotonic()
        self.deadline = self.started + options.timeout
        total_actions = sum(len(t.plan.actions) + len(t.plan.after_reopen) for t in self.tracked)
        total_revisits = sum(len(t.plan.revisit) for t in self.tracked)
        self.t_open = progress.add_task("cases opened", total=len(self.tracked))
        self.t_act = progress.add_task("agent actions", total=total_actions)
        self.t_rev = progress.add_task(
            "revisits answered", total=total_revisits, visible="followup" not in options.skip
        )
        self.t_esc = progress.add_task("escalations raised", total=None)
        self.t_note = progress.add_task("notices at the sink", total=None)

    def mine(self) -> set[str]:
        return {t.case_id for t in self.tracked if t.case_id}

    async def open(self, index: int) -> Tracked:
        tracked = self.tracked[index]
        plan = tracked.plan
        reply = await self.api.open_case(plan.endpoint, plan.body, f"demo-{self.run_id}-{index}")
        tracked.case_id, tracked.reply = str(reply["case_id"]), reply
        self.progress.advance(self.t_open)
        return tracked

    async def act(self, index: int, opened: float) -> None:
        tracked = self.tracked[index]
        await self.perform(tracked, tracked.plan.actions, opened, f"{index}")

    async def perform(
        self, tracked: Tracked, actions: tuple[Action, ...], since: float, tag: str
    ) -> None:
        assert tracked.case_id is not None
        for number, action in enumerate(sorted(actions, key=lambda a: a.at)):
            await _sleep_until(since + action.at * self.options.pace, self.deadline)
            body = self._body(tracked.case_id, action.command)
            if body is not None:
                key = f"demo-{self.run_id}-{tag}-{number}"
                status = await self.api.command(tracked.case_id, action.role, body, key)
                if status != 202:
                    self.failures.append(f"{tracked.plan.story}: {body['command']} → {status}")
            self.progress.advance(self.t_act)

    def _body(self, case_id: str, command: dict[str, Any]) -> dict[str, Any] | None:
        body = dict(command)
        if "due_in_seconds" in body:
            due = datetime.now(UTC) + timedelta(seconds=body.pop("due_in_seconds"))
            body["due_at"] = due.isoformat().replace("+00:00", "Z")
        if body["command"] == "acknowledge_escalation":
            raised = self.watch.of({case_id}) if self.watch else []
            if not raised:
                return None  # nothing to acknowledge (yet): skipped, not an error
            body["escalation_id"] = str(raised[0].payload.escalation_id)
        return body

    async def revisits(self) -> bool:
        """Answer the run's revisit calls as their stories say; False if the deadline came."""
        by_case = {t.case_id: t for t in self.tracked if t.case_id}
        followups: list[asyncio.Task[None]] = []
        # Calls of other cases are held until the end, then given back: released at once, the
        # same overdue ones would head every lease and could hide the run's own calls.
        foreign: list[dict[str, Any]] = []
        try:
            return await self._answer_all(by_case, followups, foreign)
        finally:
            for callback in foreign:
                await self.api.release(callback)
            await asyncio.gather(*followups)

    async def _answer_all(
        self,
        by_case: dict[str, Tracked],
        followups: list[asyncio.Task[None]],
        foreign: list[dict[str, Any]],
    ) -> bool:
        agent = f"demo-{self.run_id}"
        while any(t.revisits_left() for t in self.tracked):
            if time.monotonic() >= self.deadline:
                return False
            leased = await self.api.lease(agent)
            answered = False
            for callback in leased:
                tracked = by_case.get(str(callback["case_id"]))
                if tracked is None or not tracked.revisits_left():
                    foreign.append(callback)
                    continue
                answers = tracked.plan.revisit
                outcome = answers[min(len(tracked.revisit_answers), len(answers) - 1)]
                status = await self.api.answer(callback, outcome)
                if status != 200:
                    self.failures.append(f"{tracked.plan.story}: revisit → {status}")
                tracked.revisit_answers.append(outcome["outcome"])
                answered = True
                self.progress.advance(self.t_rev)
                if outcome["outcome"] == "unsatisfied" and tracked.plan.after_reopen:
                    since = time.monotonic()
                    tag = f"reopen-{len(tracked.revisit_answers)}-{tracked.case_id}"
                    work = self.perform(tracked, tracked.plan.after_reopen, since, tag)
                    followups.append(asyncio.create_task(work))
            if not answered:
                await asyncio.sleep(0.5)
        return True

    async def notices(self) -> list[dict[str, Any]]:
        if "sink" in self.options.skip:
            return []
        everything = await sink_notices(self.api.client, self.options.endpoints.sink)
        mine = self.mine()
        return [n for n in everything if n.get("case_id") in mine]

    async def tick(self) -> None:
        while True:
            escalations = len(self.watch.of(self.mine())) if self.watch else 0
            self.progress.update(self.t_esc, completed=escalations)
            self.progress.update(self.t_note, completed=len(await self.notices()))
            await asyncio.sleep(0.5)


async def _sleep_until(moment: float, deadline: float) -> None:
    await asyncio.sleep(max(0.0, min(moment, deadline) - time.monotonic()))


async def _settle(count: Callable[[], Awaitable[int]], deadline: float, quiet: float) -> None:
    """Wait until the count stops growing for `quiet` seconds (or the deadline)."""
    last, since = await count(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        await asyncio.sleep(0.5)
        now = await count()
        if now != last:
            last, since = now, time.monotonic()


def progress_display(console: Console) -> Progress:
    """The live display: a bar per kind of work, counters for what the stack did."""
    return Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def run(options: Options, console: Console) -> Result:
    """Check the stack, play the stories, and collect what the summary needs."""
    async with httpx.AsyncClient() as client:
        endpoints = options.endpoints
        await check_ready(client, endpoints, [p for p in PARTS if p not in options.skip])
        api = Api(client, endpoints)
        with progress_display(console) as progress:
            state = Run(options, api, progress)
            if "escalation" not in options.skip:
                state.watch = EscalationWatch(options.kafka)
                await state.watch.start()
            ticker = asyncio.create_task(state.tick())
            try:
                timed_out = not await _play(state, options)
            finally:
                ticker.cancel()
                if state.watch is not None:
                    await state.watch.stop()
        escalations = state.watch.of(state.mine()) if state.watch else []
        return Result(
            state.tracked,
            escalations,
            await state.notices(),
            state.failures,
            time.monotonic() - state.started,
            timed_out,
            options.skip,
        )


async def _play(state: Run, options: Options) -> bool:
    # The first case doubles as the probe of the stack's policy.
    first = await state.open(0)
    check_policy(first.reply)
    opened = {0: time.monotonic()}

    async def one(index: int) -> None:
        if index not in opened:
            await _sleep_until(state.started + index / options.rate, state.deadline)
            await state.open(index)
            opened[index] = time.monotonic()
        await state.act(index, opened[index])

    await asyncio.gather(*(one(i) for i in range(len(state.tracked))))
    finished = await state.revisits() if "followup" not in options.skip else True
    if "sink" not in options.skip:

        async def count() -> int:
            return len(await state.notices())

        await _settle(count, min(state.deadline, time.monotonic() + 20), quiet=3.0)
    return finished and time.monotonic() < state.deadline
