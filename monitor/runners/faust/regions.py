"""Reference data for a worker: subscribers per region, from the compacted ``regions`` topic."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition

from monitor.events.parsing import parse_event
from monitor.events.schemas import RegionInfo

log = logging.getLogger("yujing.faust")


class RegionDirectory:
    """Subscribers per region, read from the compacted ``regions`` topic.

    Loaded to the end before the worker starts (so rates are known for the first hour), and
    kept current by polling while it runs; each change goes to ``on_change``. Invalid
    records are logged and counted.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        on_change: Callable[[dict[str, int]], None],
        security: dict[str, object] | None = None,
    ) -> None:
        self.topic = topic
        self.on_change = on_change
        self.subscribers: dict[str, int] = {}
        self.invalid = 0
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            client_id="yujing-regions",
            group_id=None,
            **(security or {}),
        )
        partitions = self._consumer.partitions_for_topic(topic) or set()
        self._tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._tps)
        self._consumer.seek_to_beginning(*self._tps)
        self._next_poll = 0.0

    def refresh(self, every_s: float = 5.0) -> None:
        """Pick up changed reference data now and then (a poll costs a network round trip)."""
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + every_s
            self.poll()

    def load(self, timeout_s: float = 30.0) -> None:
        end = self._consumer.end_offsets(self._tps)
        deadline = time.monotonic() + timeout_s
        while any(self._consumer.position(tp) < end[tp] for tp in self._tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {self.topic} to its end")
            self.poll(timeout_ms=500)

    def poll(self, timeout_ms: int = 0) -> None:
        changed: dict[str, int] = {}
        for records in self._consumer.poll(timeout_ms=timeout_ms).values():
            for record in records:
                parsed = parse_event(
                    record.value or b"",
                    kind="region",
                    source=f"{record.topic}:{record.partition}",
                    offset=record.offset,
                )
                if isinstance(parsed, RegionInfo):
                    changed[parsed.region] = parsed.subscribers
                else:
                    self.invalid += 1
                    log.warning(
                        "invalid region record",
                        extra={
                            "fields": {
                                "offset": record.offset,
                                "detail": getattr(parsed, "detail", ""),
                            }
                        },
                    )
        if changed:
            self.subscribers.update(changed)
            self.on_change(changed)

    def close(self) -> None:
        self._consumer.close()
