"""What a judged hour sends: each finding to ``findings``, each notification to ``alerts``.

Sent from the aggregation's rounds and from a snapshot (which first judges the hours a
catch-up kept back); durable once the producer is flushed, before any event is acked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from alerts.findings import TickResult
from alerts.policy.notifiers import Notification

if TYPE_CHECKING:
    from monitor.runners.faust.topology import Topology


async def publish(t: Topology, ticks: list[TickResult], notes: list[Notification]) -> None:
    for tick in ticks:
        for sf in tick.findings:
            await t.findings.send(
                key=sf.finding.region.encode(),
                value=orjson.dumps(
                    {"spec_id": sf.spec_id, "severity": sf.severity.value} | sf.finding.to_json()
                ),
            )
    for note in notes:
        await t.alerts.send(key=note.ticket.region.encode(), value=orjson.dumps(note.to_json()))
