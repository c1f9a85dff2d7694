"""Serve the ticket API next to a worker: uvicorn in its own thread, the worker's database.

Optionally with a background loop that delivers the outbox and escalates SLA clocks, for
deployments where the detection runs as batches (embedded) and nothing else would.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

from alerts.notify.housekeeping import Housekeeping
from alerts.notify.outbox import Dispatcher
from alerts.notify.settings import Links
from alerts.tickets.api import TokenAuth, create_api
from alerts.tickets.store import TicketStore

log = logging.getLogger("yujing.api")


@dataclass
class ApiServer:
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)


def start_api(
    store: TicketStore,
    auth: TokenAuth,
    host: str,
    port: int,
    links: Links | None = None,
    timezone: str = "+00:00",
) -> ApiServer:
    """Start serving in a daemon thread; returns once the socket listens."""
    if not auth.tokens:
        log.warning(
            "ticket API has no tokens: every change will answer 401",
            extra={"fields": {"hint": "set YUJING_API_TOKENS or a tokens file"}},
        )
    server = serve_in_thread(
        create_api(store, auth, links=links, timezone=timezone), host, port, "yujing-api"
    )
    log.info("ticket API listening", extra={"fields": {"url": f"http://{host}:{port}"}})
    return server


def serve_in_thread(app: Any, host: str, port: int, name: str) -> ApiServer:
    """Serve an ASGI app with uvicorn in a daemon thread; returns once the socket listens."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # uvicorn has no readiness callback; bounded by the deadline
    if not server.started:
        raise RuntimeError(f"{name} did not start on {host}:{port}")
    return ApiServer(server, thread)


def housekeeping(
    store: TicketStore, dispatcher: Dispatcher, stop: threading.Event, every_s: float = 1.0
) -> None:
    """Deliver the outbox every second; escalate breached SLA clocks every 15 seconds."""
    steps = Housekeeping(store.escalate_due, dispatcher)
    while not stop.is_set():
        steps.step()
        stop.wait(every_s)
