"""Kafka topics of the monitor and their management with kafka-python's admin client.

Every topic is keyed by region where it carries regional data, so that Kafka's partitioning
is the monitor's scale-out: a region lives in exactly one partition, owned by one worker.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

from detectors.timeaxis import DAY_MS, HOUR_MS
from monitor.runners.faust.security import KafkaSecurity

PLAINTEXT = KafkaSecurity()

log = logging.getLogger("yujing.topics")


@dataclass(frozen=True)
class TopicSpec:
    role: str
    suffix: str
    help: str
    compacted: bool = False
    retention_ms: int = 7 * DAY_MS
    partitioned: bool = True  # False: one partition (ordering over everything)


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("complaints", "raw.complaints", "raw complaint events (JSON), keyed by region"),
    TopicSpec("kpis", "raw.kpis", "raw network KPI samples (JSON), keyed by region"),
    TopicSpec(
        "regions", "regions", "region reference data (JSON), keyed by region", compacted=True
    ),
    TopicSpec("events", "events", "validated events, repartitioned by region (internal)"),
    TopicSpec(
        "hourly", "hourly", "hourly aggregates per region (metric points)", retention_ms=90 * DAY_MS
    ),
    TopicSpec("findings", "findings", "detector findings", retention_ms=90 * DAY_MS),
    TopicSpec(
        "alerts", "alerts", "ticket notifications (opened, recovered)", retention_ms=90 * DAY_MS
    ),
    TopicSpec(
        "deadletters",
        "deadletters",
        "rejected events: original bytes, reason in headers",
        retention_ms=30 * DAY_MS,
    ),
)


@dataclass(frozen=True)
class TopicNames:
    prefix: str = "yujing"

    def name(self, role: str) -> str:
        spec = next(t for t in TOPICS if t.role == role)
        return f"{self.prefix}.{spec.suffix}"

    def all(self) -> dict[str, str]:
        return {t.role: f"{self.prefix}.{t.suffix}" for t in TOPICS}


def bootstrap_from_env(default: str = "127.0.0.1:9092") -> str:
    return os.environ.get("KAFKA_BOOTSTRAP") or os.environ.get("YUJING_KAFKA_BOOTSTRAP") or default


def create_topics(
    bootstrap: str,
    names: TopicNames,
    partitions: int,
    replication: int = 1,
    retention_hours: dict[str, int] | None = None,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, str]:
    """Create missing topics; grow partitions where fewer than asked. Idempotent."""
    retention_hours = retention_hours or {}
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="yujing-admin", **security.kafka_python()
    )
    result: dict[str, str] = {}
    try:
        existing = admin.describe_topics()
        current = {t["name"]: len(t["partitions"]) for t in existing}
        for spec in TOPICS:
            name = f"{names.prefix}.{spec.suffix}"
            wanted = partitions if spec.partitioned else 1
            configs = {"cleanup.policy": "compact" if spec.compacted else "delete"}
            if not spec.compacted:
                hours = retention_hours.get(spec.role)
                configs["retention.ms"] = str(hours * HOUR_MS if hours else spec.retention_ms)
            if name in current:
                if current[name] < wanted:
                    admin.create_partitions({name: NewPartitions(total_count=wanted)})
                    result[name] = f"grown to {wanted} partitions"
                else:
                    result[name] = f"exists ({current[name]} partitions)"
                continue
            try:
                admin.create_topics([NewTopic(name, wanted, replication, topic_configs=configs)])
                result[name] = f"created ({wanted} partitions)"
            except TopicAlreadyExistsError:
                result[name] = "exists"
    finally:
        admin.close()
    return result


def list_topics(
    bootstrap: str, names: TopicNames, security: KafkaSecurity = PLAINTEXT
) -> dict[str, int]:
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="yujing-admin", **security.kafka_python()
    )
    try:
        ours = {f"{names.prefix}.{t.suffix}" for t in TOPICS}
        return {
            t["name"]: len(t["partitions"]) for t in admin.describe_topics() if t["name"] in ours
        }
    finally:
        admin.close()
