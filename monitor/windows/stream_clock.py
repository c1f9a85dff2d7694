"""A replay's "now": how far its own events vouch that the stream has come.

A live runner bounds event times by its wall clock. A replay of last quarter's export has
no such bound: one complaint typed 40 days ahead is within the wall clock's, and once in
its region's windows it moved the region's watermark 40 days on (its later events were
dead-lettered as late), moved the series' time axis past the weeks the replay was judging
(their findings were lost) and had the replay's end close a week of empty hours for every
region (silence where there was none).

So a replay's events are admitted up to ``ahead_ms`` past the newest time the stream
itself has reached. An event beyond it is held, not refused, and taken (in order) when the
stream reaches its time. An export with a month missing jumps forward for real: the events
after the gap vouch for each other (``VOUCHING_EVENTS`` of them, near one another, from
``VOUCHING_REGIONS`` regions, or every region of a stream with fewer) and the clock jumps
to them. A lone wrong time past the replay's end never finds company, and is refused when
the replay ends. The clock starts from the median of the first events, so a wrong time on
the file's first line does not set it. What is held stays bounded (``MAX_HELD``,
``MAX_HELD_BYTES``): beyond, the event held longest is refused.

Example:

>>> clock = StreamClock(ahead_ms=10, vouching=3)
>>> clock.offer(100, "r1", "a"), clock.offer(101, "r2", "b"), clock.offer(102, "r1", "c")
([], [], ['a', 'b', 'c'])
>>> clock.offer(5000, "r1", "typo"), clock.offer(103, "r2", "d")
([], ['d'])
>>> [held.item for held in clock.finish()]
['typo']
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import count
from typing import Generic, TypeVar

T = TypeVar("T")

VOUCHING_EVENTS = 20  # events near one another that vouch for a time (a start, a jump)
VOUCHING_REGIONS = 3  # ... from this many regions, or all of a stream with fewer
MAX_HELD = 10_000  # events held at once; beyond, the one held longest is refused
MAX_HELD_BYTES = 64 << 20  # ... and their sizes (a record may be up to a MiB)


@dataclass(slots=True, eq=False)
class Held(Generic[T]):
    time: int
    region: str
    item: T
    size: int = 0
    gone: bool = False  # taken or refused (the queues drop it when they reach it)


@dataclass(slots=True)
class _Bucket:
    """The held events of one span of ``ahead_ms``: how many, from which regions."""

    events: int = 0
    regions: Counter[str] = field(default_factory=Counter)


class StreamClock(Generic[T]):
    """Admits a replay's events in order, holding those too far ahead of the stream.

    ``offer`` returns the items to take now (the offered one, or none while it is held,
    or several when the clock reaches held ones); ``refused`` collects items the hold
    could not keep (it was full); ``finish`` returns those nothing vouched for. Each
    operation costs O(log held): a site whose clock runs a year ahead, event after event,
    must not make each of the stream's events walk the hold.
    """

    def __init__(
        self,
        ahead_ms: int,
        vouching: int = VOUCHING_EVENTS,
        regions: int = VOUCHING_REGIONS,
        max_held: int = MAX_HELD,
        max_bytes: int = MAX_HELD_BYTES,
    ) -> None:
        self.ahead_ms = ahead_ms
        self.vouching = vouching
        self.vouching_regions = regions
        self.max_held = max_held
        self.max_bytes = max_bytes
        self.now: int | None = None  # the newest time admitted; None before the start
        self.refused: list[Held[T]] = []
        self.held_count = 0
        self.held_bytes = 0
        self._arrived: deque[Held[T]] = deque()  # held, in arrival order (and some gone)
        self._by_time: list[tuple[int, int, Held[T]]] = []  # a heap: held, by time
        self._seq = count()
        self._buckets: dict[int, _Bucket] = {}
        self._regions: set[str] = set()  # the stream's regions, up to ``vouching_regions``

    @property
    def held(self) -> list[Held[T]]:
        """What is held, in arrival order."""
        return [h for h in self._arrived if not h.gone]

    def offer(self, time: int, region: str, item: T, size: int = 0) -> list[T]:
        """``size``: what holding ``item`` costs in memory (its raw bytes)."""
        now = self.now
        if now is not None and time <= now + self.ahead_ms:
            if len(self._regions) < self.vouching_regions:
                self._regions.add(region)
            if time > now:
                self.now = time
                soonest = self._soonest()
                if soonest is not None and soonest <= time:
                    return [item, *self._release()]
            return [item]
        self._hold(Held(time, region, item, size))
        if now is None:
            return self._start() if self.held_count >= self.vouching else []
        return self._jump(time)

    def settle(self) -> list[T]:
        """The input paused (a batch ended): start the clock from what is held so far."""
        return self._start() if self.now is None and self.held_count else []

    def finish(self) -> list[Held[T]]:
        """The replay ended: what is still held, which nothing vouched for (``settle``
        first, for a replay whose clock never started)."""
        left = self.held
        self._arrived.clear()
        self._by_time.clear()
        self._buckets.clear()
        self.held_count = self.held_bytes = 0
        return left

    def reconfigure(self, ahead_ms: int) -> None:
        """A reloaded ``windows.max_future_minutes``: the held events' spans follow it."""
        held = self.finish()
        self.ahead_ms = ahead_ms
        for each in held:
            self._hold(each)

    def _hold(self, held: Held[T]) -> None:
        while self.held_count and (
            self.held_count >= self.max_held or self.held_bytes + held.size > self.max_bytes
        ):
            oldest = self._arrived.popleft()
            if not oldest.gone:
                self._let_go(oldest)
                self.refused.append(oldest)
        self._arrived.append(held)
        heapq.heappush(self._by_time, (held.time, next(self._seq), held))
        self.held_count += 1
        self.held_bytes += held.size
        bucket = self._buckets.setdefault(held.time // self.ahead_ms, _Bucket())
        bucket.events += 1
        bucket.regions[held.region] += 1

    def _let_go(self, held: Held[T]) -> None:
        held.gone = True
        self.held_count -= 1
        self.held_bytes -= held.size
        key = held.time // self.ahead_ms
        bucket = self._buckets[key]
        bucket.events -= 1
        bucket.regions[held.region] -= 1
        if not bucket.regions[held.region]:
            del bucket.regions[held.region]
        if not bucket.events:
            del self._buckets[key]
        if len(self._arrived) > 2 * self.held_count + 64:  # mostly gone: compact
            self._arrived = deque(h for h in self._arrived if not h.gone)

    def _soonest(self) -> int | None:
        heap = self._by_time
        while heap and heap[0][2].gone:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def _start(self) -> list[T]:
        times = sorted(h.time for h in self.held)
        self.now = times[(len(times) - 1) // 2]  # the lower median: a minority cannot set it
        return self._vouched()

    def _jump(self, time: int) -> list[T]:
        """Move the clock to ``time``'s neighbours when enough of them vouch for it: the
        held events of its span of ``ahead_ms`` and the next (so at most two spans)."""
        key = time // self.ahead_ms
        needed = max(1, min(self.vouching_regions, len(self._regions)))
        for first in (key - 1, key):
            spans = [b for b in (self._buckets.get(first), self._buckets.get(first + 1)) if b]
            if sum(b.events for b in spans) < self.vouching:
                continue
            if len(set().union(*(b.regions for b in spans))) >= needed:
                start, end = first * self.ahead_ms, (first + 2) * self.ahead_ms
                assert self.now is not None
                vouched = min(h.time for h in self.held if start <= h.time < end)
                self.now = max(self.now, vouched)
                return self._vouched()
        return []

    def _vouched(self) -> list[T]:
        """At a start or a jump: take, in arrival order (their lateness among themselves
        is the stream's), every held item up to ``ahead_ms`` past the clock, moving it on
        with them (a run of them, each within ``ahead_ms`` of the last, all goes). Rare,
        so a walk of the hold."""
        out: list[T] = []
        while self.now is not None:
            bound = self.now + self.ahead_ms
            due = [h for h in self._arrived if not h.gone and h.time <= bound]
            if not due:
                break
            for held in due:
                self._take(held, out)
        return out

    def _release(self) -> list[T]:
        """The stream reached held times: take each once the clock is at it, in time
        order, so an early wrong time enters as an event in order and moves no watermark
        ahead of its region."""
        out: list[T] = []
        while self.now is not None:
            soonest = self._soonest()
            if soonest is None or soonest > self.now:
                break
            self._take(heapq.heappop(self._by_time)[2], out)
        return out

    def _take(self, held: Held[T], out: list[T]) -> None:
        self._let_go(held)
        out.append(held.item)
        if self.now is None or held.time > self.now:
            self.now = held.time
        if len(self._regions) < self.vouching_regions:
            self._regions.add(held.region)
