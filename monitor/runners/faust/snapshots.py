"""Window state saved as snapshots every few seconds, with the events acked behind them.

Writing every changed region's whole window state to the table after every batch was
what held the worker back: with a thousand regions each batch touches, a thousand table
writes of kilobytes each (the open hours' readings) per batch, 80% of the time on the
samples mix (docs/benchmarks.md). Instead the agent takes its events without acking
them, and every ``SNAPSHOT_SECONDS`` (``SNAPSHOT_SECONDS_BEHIND`` during a catch-up, or
``SNAPSHOT_BYTES`` of records) it makes the batches' outputs durable, writes the regions
changed since the last snapshot once each, and only then acks the events: their offsets
are committed only once a snapshot holds their effect. A worker killed in between
replays from the last committed offset; the restored states remember what they applied
and skip it, re-emitted hours are identical, tickets have deterministic keys: nothing is
lost or counted twice, as before, and the number of table writes no longer grows with
the number of batches.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.runners.faust.outputs import publish

if TYPE_CHECKING:
    from monitor.runners.faust.topology import Topology

SNAPSHOT_SECONDS = 2.0
# while records wait upstream (a catch-up), less often: a snapshot first judges the hours
# kept back, and a detector call costs about as much for one hour as for ten (1,000
# regions: ~0.3 s a call, docs/benchmarks.md); a crash then replays at most this much
SNAPSHOT_SECONDS_BEHIND = 10.0
# un-acked events-topic records keep their bytes (a bundle is up to ~256 KB): memory bound
SNAPSHOT_BYTES = 64 * 2**20


@dataclass
class Unsaved:
    """Events applied to the windows whose effect is not yet in the table."""

    stream: Any = None  # the aggregation agent's stream, which acks them
    events: list[Any] = field(default_factory=list)
    held_bytes: int = 0
    since: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    behind: bool = False  # the last batch found records waiting upstream

    def hold(self, events: list[Any]) -> None:
        self.events.extend(events)
        self.held_bytes += sum(len(e.message.value or b"") for e in events)

    def due(self) -> bool:
        every = SNAPSHOT_SECONDS_BEHIND if self.behind else SNAPSHOT_SECONDS
        return bool(self.events) and (
            self.held_bytes >= SNAPSHOT_BYTES or time.monotonic() - self.since >= every
        )

    def forget(self) -> None:
        """Partitions moved: these events are redelivered from the committed offsets."""
        self.events.clear()
        self.held_bytes = 0
        self.since = time.monotonic()


async def save(t: Topology, owned: set[int] | None = None) -> None:
    """Hours kept back judged, outputs durable, then each changed region's state in the
    table and its changelog, then the events acked (hold ``t.unsaved.lock``). ``owned``:
    partitions are moving; only the events-topic partitions kept are saved and acked (the
    others' events are redelivered to their new owner, which restores from the table)."""
    unsaved, core = t.unsaved, t.core
    # hours a catch-up kept back are judged first: once the events are acked, nothing
    # would close those hours again
    await publish(t, *await core.off_loop(core.judge_backlog))
    await t.app.producer.flush()
    for key, state in await core.off_loop(core.state_records, owned):
        t.windows[key] = state
    await t.app.producer.flush()  # the changelog too, before any offset may be committed
    for event in unsaved.events:
        if owned is None or event.message.partition in owned:
            await unsaved.stream.ack(event)
    unsaved.forget()
