"""A table recovery that makes no progress: its changelog partitions are read again, and
a worker whose recovery never moves ends, for its supervisor to start it afresh.

After a rebalance Faust reads each active changelog partition up to its highwater before
any agent takes an event. Seen in 3 of ~60 runs of the Kafka test
``test_after_a_rebalance_without_events_each_region_is_exported_by_its_owner_alone`` under
CPU load: the first worker's recovery logged "No event received for active tp
<windows-changelog> since recovery start" for over a minute; its fetcher delivered none
of the few records it waited for (its fetch loop idle at the top of ``getmany``). The
worker took no event meanwhile and went on exporting the regions it no longer owned, and
nothing said it would ever end. Faust only warns (``Recovery._verify_remaining``); its
issues describe the same wait (faust-streaming #74; robinhood #542, a consumer dropping
the changelog's records after a seek). Which state went wrong is not known: when it came
again with this watch in place (2 of 18 runs), Faust's consumer had its flow active and
no changelog partition paused, and read again (below) the recovery ended within the
second and the test passed.

So a recovery with records left and none read for ``STUCK_SECONDS`` is read again from
where it stands (a seek to the next offset, the partitions resumed, the consumer's flow
resumed: what Faust's recovery does when it begins), at most ``MAX_KICKS`` times; then the
worker stops with an error rather than wait unseen. Nothing is lost either way: the table
is rebuilt from its changelog, and the events are read from their committed offsets.
Also checked by making Faust leave the changelog partitions paused (its recovery's resume
skipped): read again once, the recovery ended and the test passed; skipped every time,
the worker stopped after the third read with the error below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from faust.types import TP

log = logging.getLogger("yujing.faust")

STUCK_SECONDS = 20.0  # records left and none read this long: read them again
MAX_KICKS = 3  # reads again without progress before the worker gives up
RECOVERY_CHECK_SECONDS = 5.0
STUCK = "table recovery read nothing for a while: its changelog partitions are read again"
GAVE_UP = (
    "table recovery made no progress though read again: the worker stops, to be started "
    "afresh (its state is rebuilt from the changelog, its events from committed offsets)"
)


class Action(Enum):
    WAIT = "wait"
    READ_AGAIN = "read_again"
    GIVE_UP = "give_up"


@dataclass
class RecoveryWatch:
    """When the current recovery last moved, and how often it was read again since."""

    moved: float | None = None  # when the records left last changed (or recovery began)
    left: int | None = None
    kicks: int = 0

    def check(self, now: float, in_recovery: bool, left: int) -> Action:
        """What to do about a recovery with ``left`` records to read at ``now``."""
        if not in_recovery or left <= 0:
            self.moved, self.left, self.kicks = None, None, 0
            return Action.WAIT
        if self.moved is None or left != self.left:  # began, or moved: start counting again
            self.moved, self.left, self.kicks = now, left, 0
            return Action.WAIT
        if now - self.moved < STUCK_SECONDS:
            return Action.WAIT
        if self.kicks >= MAX_KICKS:
            return Action.GIVE_UP
        self.kicks += 1
        self.moved = now
        return Action.READ_AGAIN


class RecoveryStuck(RuntimeError):
    """The worker's table recovery made no progress (see ``GAVE_UP``)."""


async def watch(
    app: Any, state: RecoveryWatch, now: float, counted: Callable[[], object] = lambda: None
) -> Action:
    """Check Faust's recovery (``app.tables.recovery``) and act on what ``state`` says;
    ``counted`` is told of each read again (a metric: a worker that needs it often shows)."""
    recovery = app.tables.recovery
    remaining = {tp: n for tp, n in recovery.active_remaining().items() if n > 0}
    action = state.check(now, bool(recovery.in_recovery), sum(remaining.values()))
    if action is Action.WAIT:
        return action
    consumer = app.consumer
    fields = {
        "remaining": {f"{tp.topic}:{tp.partition}": n for tp, n in sorted(remaining.items())},
        "stuck_s": STUCK_SECONDS,
        "read_again": state.kicks,
        "consumer_flow_active": bool(getattr(consumer, "flow_active", True)),
        "paused": sorted(
            f"{tp.topic}:{tp.partition}"
            for tp in getattr(consumer, "_paused_partitions", ())
            if tp in remaining
        ),
    }
    if action is Action.GIVE_UP:
        log.error(GAVE_UP, extra={"fields": fields})
        await app.crash(RecoveryStuck(f"{GAVE_UP}: {fields['remaining']}"))
        return action
    log.warning(STUCK, extra={"fields": fields})
    counted()
    offsets = recovery.active_offsets  # the last offset read of each (-1: none)
    # Faust's own type: the recovery's keys are aiokafka's, which its consumer's sets of
    # active partitions refuse (an ``AssertionError`` that ends the fetcher)
    tps = {TP(tp.topic, tp.partition): max(offsets[tp] + 1, 0) for tp in remaining}
    try:
        await consumer.seek_wait(tps)
    except TimeoutError:  # sought, positions not confirmed: resumed all the same
        log.warning(
            "changelog partitions sought, positions not confirmed", extra={"fields": fields}
        )
    consumer.resume_partitions(set(tps))
    if not consumer.flow_active:
        consumer.resume_flow()
    await app._fetcher.maybe_start()
    return action
