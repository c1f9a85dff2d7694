"""Feed JSONL (simulator output or recorded data) into the raw topics with kafka-python.

Lines are routed by their ``type`` and keyed by region, so a region's events keep their
order all the way to the worker that owns the region. A line that is not valid JSON, or
has no recognisable type, still goes to the complaints topic: the monitor's validation,
not the producer, decides what is a dead letter, so nothing is lost on the way in.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

from kafka import KafkaProducer

from monitor.events.parsing import load_json
from monitor.runners.faust.security import KafkaSecurity
from monitor.runners.faust.topics import PLAINTEXT, TopicNames

ROLE_BY_TYPE = {"complaint": "complaints", "kpi": "kpis", "kpi_report": "kpis", "region": "regions"}


def route(line: bytes) -> tuple[str, bytes | None]:
    """(topic role, key) for one JSON line."""
    try:
        doc = load_json(line)  # lenient like validation: a NaN line is routed by its type
    except ValueError:
        return "complaints", None
    if not isinstance(doc, dict):
        return "complaints", None
    role = ROLE_BY_TYPE.get(str(doc.get("type")), "complaints")
    region = doc.get("region")
    return role, region.encode() if isinstance(region, str) else None


def produce_lines(
    lines: Iterable[bytes],
    bootstrap: str,
    names: TopicNames,
    rate: float | None = None,
    progress: Callable[[int], None] | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> Counter[str]:
    """Send every non-empty line; ``rate`` caps events per second. Returns counts by topic."""
    producer = KafkaProducer(
        **security.kafka_python(),
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        retries=10,
        client_id="yujing-produce",
    )
    topics = names.all()
    counts: Counter[str] = Counter()
    started = time.monotonic()
    sent = 0
    try:
        for raw in lines:
            line = raw.rstrip(b"\r\n")  # the payload is kept byte for byte
            if not line.strip():
                continue
            role, key = route(line)
            producer.send(topics[role], key=key, value=line)
            counts[topics[role]] += 1
            sent += 1
            if progress is not None and sent % 5000 == 0:
                progress(5000)
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)  # pacing the producer, not synchronising a test
        producer.flush()
    finally:
        producer.close()
    if progress is not None:
        progress(sent % 5000)
    return counts
