"""The Faust runner: the same pipeline as the embedded runner, on Kafka, scaled by partitions.

Laid out as in the Faust docs, one concern per module:

* ``topology``  the topics and the ``windows`` table;
* ``intake``    raw complaint/KPI topics -> dead letters, or ``events`` bundles by region;
* ``aggregate`` ``events`` -> windows -> ``hourly`` -> detectors -> tickets, ``findings``,
  ``alerts`` (and why a crash loses and duplicates nothing);
* ``timers``    hot reload, the outbox and SLA clocks, consumer lag;
* ``views``     ``/metrics`` and ``/yujing/status``;
* ``core``      the plain-Python part: the ``Pipeline`` and its Kafka bookkeeping.
"""

from __future__ import annotations

import logging

import faust

from monitor.config.load import load_config
from monitor.config.model import NO_DETECTORS, MonitorConfig
from monitor.observability.logs import logging_config
from monitor.runners.collector import tune_for_streaming
from monitor.runners.faust import aggregate, intake, timers, views
from monitor.runners.faust.commits import retry_refused_commits
from monitor.runners.faust.core import WorkerCore
from monitor.runners.faust.regions import RegionDirectory
from monitor.runners.faust.security import KafkaSecurity
from monitor.runners.faust.settings import FETCH_WAIT_MS, WorkerSettings
from monitor.runners.faust.topology import declare

log = logging.getLogger("yujing.faust")


def broker_credentials(security: KafkaSecurity) -> faust.SASLCredentials | None:
    """The Faust app's view of the connection settings every client shares."""
    if security.protocol == "PLAINTEXT":
        return None
    if not security.sasl:
        return faust.SSLCredentials(security.ssl_context())
    return faust.SASLCredentials(
        username=security.username,
        password=security.password,
        ssl_context=security.ssl_context(),
        mechanism=security.mechanism,
    )


def create_app(settings: WorkerSettings, config: MonitorConfig | None = None) -> faust.App:
    config = config or load_config(settings.config_path)
    if not config.detectors:
        log.warning(NO_DETECTORS, extra={"fields": {"file": str(settings.config_path)}})
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        broker_credentials=broker_credentials(settings.security),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        producer_acks=-1,
        # with aiokafka's 16 KB batches a round that closed thousands of hours (~0.5 KB
        # each) waited a broker round trip per 16 KB: 1.0-1.3 s of the event loop for
        # 3,000-14,000 hourly aggregates, 0.01-0.05 s now (docs/benchmarks.md); the
        # changelog's snapshots gain the same. Under the ~1 MB a broker takes by default,
        # as the bundles are
        producer_max_batch_size=512 * 1024,
        web_host=settings.web_host,
        web_port=settings.web_port,
        datadir=str(settings.data_dir),
        table_cleanup_interval=3600.0,
        # agents take whole batches: the stream must be able to prefetch several, or
        # ``take_events`` waits out its timeout for a batch the buffer cannot hold
        stream_buffer_maxsize=max(4096, 4 * settings.batch_size),
        consumer_max_fetch_size=8 * 1024 * 1024,
        # events are acked by window snapshots (runners.faust.snapshots), not one by one:
        # a stop or a rebalance must not wait for acks that only the next snapshot gives;
        # what was not acked is redelivered and skipped where a saved state applied it
        stream_wait_empty=False,
    )
    core = WorkerCore(settings, config)
    # reference data first, so that the first hour a worker emits already has its rates
    regions = RegionDirectory(
        settings.bootstrap,
        settings.topics.name("regions"),
        core.pipeline.set_subscribers,
        settings.security.kafka_python(),
    )
    regions.load()
    log.info("regions loaded", extra={"fields": {"regions": len(regions.subscribers)}})
    topology = declare(app, core, regions)
    for concern in (intake, aggregate, timers, views):
        concern.register(topology)

    @app.on_partitions_assigned.connect
    async def tune_consumer_after_assignment(
        sender: faust.App, *_assigned: object, **_kwargs: object
    ) -> None:
        fetch_promptly(sender)
        retry_refused_commits(sender)

    app.yujing_core = core  # type: ignore[attr-defined]
    return app


def fetch_promptly(app: faust.App) -> bool:
    """Faust's consumer fetches with ``FETCH_WAIT_MS`` too. Faust fixes its fetch wait at
    1.5 s and has no setting for it (``faust/transport/drivers/aiokafka.py``), so the
    started consumer's fetcher is set: private attributes, so a Faust or aiokafka without
    them keeps its 1.5 s (False) and the worker runs on."""
    consumer = getattr(getattr(app.consumer, "_thread", None), "_consumer", None)
    fetcher = getattr(consumer, "_fetcher", None)
    if not isinstance(getattr(fetcher, "_fetch_max_wait_ms", None), int):
        return False
    fetcher._fetch_max_wait_ms = FETCH_WAIT_MS  # type: ignore[union-attr]
    return True


def run_worker(settings: WorkerSettings) -> None:
    """Run one Faust worker in this process until it is stopped."""
    from faust.worker import Worker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    if settings.api_port is not None:
        from alerts.tickets.api import TokenAuth
        from monitor.runners.api_server import start_api

        core = app.yujing_core  # type: ignore[attr-defined]
        start_api(
            core.store,
            TokenAuth.from_env(),
            settings.api_host,
            settings.api_port,
            links=core.pipeline.config.notifications.links,
            timezone=core.pipeline.config.timezone,
        )
    worker = Worker(
        app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
        logging_config=logging_config(settings.log_level.upper()),  # one format for all
    )
    tune_for_streaming()
    worker.execute_from_commandline()


__all__ = ["create_app", "fetch_promptly", "run_worker"]
