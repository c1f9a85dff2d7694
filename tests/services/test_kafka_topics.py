"""Topic management on the real broker: idempotent, partitions and retention from config."""

import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from monitor.runners.faust.topics import TopicNames, create_topics, list_topics

pytestmark = pytest.mark.kafka


def test_create_is_idempotent_and_grows_partitions(kafka_bootstrap):
    names = TopicNames(f"topics{uuid.uuid4().hex[:6]}")
    first = create_topics(kafka_bootstrap, names, 2, retention_hours={"hourly": 48})
    assert all(what.startswith("created") for what in first.values())
    again = create_topics(kafka_bootstrap, names, 2)
    assert all(what.startswith("exists") for what in again.values())
    grown = create_topics(kafka_bootstrap, names, 3)
    assert grown[names.name("events")] == "grown to 3 partitions"
    assert list_topics(kafka_bootstrap, names)[names.name("events")] == 3
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, names.name(role))
            for role in ("hourly", "regions")
        ]
        described = admin.describe_configs(resources)
        text = repr(described)
        assert str(48 * 3_600_000) in text  # hourly retention from the override
        assert "compact" in text  # regions is compacted
    finally:
        admin.close()
