"""The remote-write receiver: ``POST /api/v1/write`` from a Prometheus, readings out to a
sink (the raw KPI topic, or an embedded pipeline).

Prometheus retries a request that failed with a 5xx and drops one that got a 4xx, so a
body that is no remote-write request answers 400 and is kept as a dead letter, while a
sink that cannot take the readings answers 503 (try again). Bodies are bounded before
they are read whole.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from fastapi import FastAPI, Request, Response

from monitor.config.model import RemoteWriteSettings
from monitor.events.deadletters import DeadLetter, Reason
from monitor.importers.remote_write import RemoteWriteError, decode, readings
from monitor.pipeline import Pipeline
from monitor.runners.faust.security import KafkaSecurity

log = logging.getLogger("yujing.remote_write")

KEPT_PREFIX = 4096  # of a refused body, in its dead letter
SOURCE = "remote_write"

Sink = Callable[[list[tuple[bytes, bytes]]], None]  # (region key, KPI event JSON)


@dataclass
class ReceiverStats:
    requests: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    readings: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class EmbeddedSink:
    """Readings into an embedded pipeline; the lock keeps it single-threaded."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.lock = threading.Lock()

    def __call__(self, payloads: list[tuple[bytes, bytes]]) -> None:
        with self.lock:
            for _key, raw in payloads:
                self.pipeline.feed(raw, kind="kpi", source=SOURCE)
            self.pipeline.settle()  # a request is a batch: its readings are taken now

    def dead_letter(self, letter: DeadLetter) -> None:
        with self.lock:
            self.pipeline.dead_letter(letter)


def create_receiver(
    settings: Callable[[], RemoteWriteSettings],
    sink: Sink,
    dead_letter: Callable[[DeadLetter], None],
    stats: ReceiverStats | None = None,
) -> FastAPI:
    """``settings`` is read per request, so a reloaded config's mapping applies at once."""
    app = FastAPI(title="Yujing remote-write receiver", docs_url=None, redoc_url=None)
    counts = stats if stats is not None else ReceiverStats()
    app.state.stats = counts

    def refuse(status: int, reason: str, body: bytes) -> Response:
        counts.refused[reason] += 1
        dead_letter(DeadLetter(Reason.INVALID_FORMAT, reason, body[:KEPT_PREFIX], source=SOURCE))
        log.warning("remote write refused", extra={"fields": {"reason": reason}})
        return Response(reason + "\n", status_code=status, media_type="text/plain")

    @app.post("/api/v1/write")
    async def write(request: Request) -> Response:
        counts.requests += 1
        current = settings()
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > current.max_body_bytes:
            return refuse(413, f"body of {declared} bytes over {current.max_body_bytes}", b"")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > current.max_body_bytes:
                return refuse(413, f"body over {current.max_body_bytes} bytes", bytes(body))
        encoding = request.headers.get("content-encoding", "snappy").lower()
        if encoding != "snappy":
            return refuse(
                400, f"content-encoding {encoding!r}: remote write is snappy", bytes(body)
            )
        try:
            decoded = decode(bytes(body))
        except RemoteWriteError as exc:
            return refuse(400, str(exc), bytes(body))
        found = readings(decoded, current)
        counts.skipped.update(found.skipped)
        try:
            sink(found.payloads)
        except Exception as exc:  # noqa: BLE001 - any sink failure: Prometheus retries
            log.error("remote write sink failed", extra={"fields": {"error": str(exc)}})
            return Response("sink unavailable\n", status_code=503, media_type="text/plain")
        counts.readings += len(found.payloads)
        return Response(status_code=204)

    return app


class KafkaSink:
    """Readings onto the raw KPI topic, keyed by region like every KPI record: the Faust
    workers take them from there. A request is answered only once the broker has its
    readings (acks=all, flushed), so a 204 never loses one."""

    def __init__(
        self, bootstrap: str, topic: str, dead_letter_topic: str, security: KafkaSecurity
    ) -> None:
        from kafka import KafkaProducer

        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.producer = KafkaProducer(
            **security.kafka_python(),
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            retries=5,
            client_id="yujing-remote-write",
        )
        self.lock = threading.Lock()

    def __call__(self, payloads: list[tuple[bytes, bytes]]) -> None:
        with self.lock:
            futures = [self.producer.send(self.topic, key=k, value=v) for k, v in payloads]
            self.producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=0)  # raises if the broker refused one: answer 503

    def dead_letter(self, letter: DeadLetter) -> None:
        """Onto the dead-letter topic, beside the stream's own."""
        with self.lock:
            self.producer.send(self.dead_letter_topic, value=orjson.dumps(letter.to_json()))
            self.producer.flush(timeout=30)

    def close(self) -> None:
        self.producer.close()
