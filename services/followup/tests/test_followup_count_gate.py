"""The queue gauges: a recount and the commits that change the queue never interleave."""

from __future__ import annotations

import asyncio

from casegold_followup.metrics import FollowupMetrics


async def test_a_commit_during_a_recount_waits_and_is_not_lost() -> None:
    metrics = FollowupMetrics()
    table = {"revisit": 1, "promise": 0}
    metrics.recount(table)
    counted, reply = asyncio.Event(), asyncio.Event()

    async def recount() -> None:
        async with metrics.gate.count():
            snapshot = dict(table)  # what the count query read
            counted.set()
            await reply.wait()  # its answer is slow to come back
            metrics.recount(snapshot)

    async def outcome() -> None:
        await counted.wait()
        async with metrics.gate.commit():
            table["revisit"] -= 1  # the commit that takes the callback out of the queue
            metrics.unqueued(["revisit"])

    tasks = [asyncio.create_task(recount()), asyncio.create_task(outcome())]
    await counted.wait()
    await asyncio.sleep(0.01)
    assert table["revisit"] == 1, "committed while the recount was reading"
    reply.set()
    await asyncio.gather(*tasks)
    assert metrics.due_now["revisit"] == table["revisit"] == 0


async def test_a_recount_waits_for_the_commits_under_way() -> None:
    metrics = FollowupMetrics()
    table = {"revisit": 0, "promise": 0}
    committing, done = asyncio.Event(), asyncio.Event()
    read: list[int] = []

    async def promote() -> None:
        async with metrics.gate.commit():
            committing.set()
            await done.wait()
            table["promise"] += 2
            metrics.queued(["promise", "promise"])

    async def recount() -> None:
        await committing.wait()
        async with metrics.gate.count():
            read.append(table["promise"])
            metrics.recount(table)

    tasks = [asyncio.create_task(promote()), asyncio.create_task(recount())]
    await committing.wait()
    await asyncio.sleep(0.01)
    assert read == [], "the recount read the table with a commit under way"
    done.set()
    await asyncio.gather(*tasks)
    assert read == [2]
    assert metrics.due_now["promise"] == 2
