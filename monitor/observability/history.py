"""A replay's history for Prometheus: the per-region gauges of every judged hour, stamped
in event time, as OpenMetrics for ``promtool tsdb create-blocks-from openmetrics``.

A live worker's gauges hold the latest hour and Prometheus keeps their past; a replay
runs weeks of hours in seconds, so the scrapes see one moment and the dashboards have
nothing to look back at. This writer asks the same instruments (``WorkerMetrics``) for
their values after each judged hour and stamps them with the hour's end, so a backfilled
Prometheus shows the replayed weeks on the same panels, queries and labels as live.

Samples are spooled per metric family and joined at the end (OpenMetrics wants each
family's samples together, each series in time order), so memory stays flat.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import IO

from alerts.findings import TickResult
from detectors.timeaxis import HOUR_MS
from monitor.observability.metrics import WorkerMetrics
from monitor.pipeline import Pipeline

# the gauges that describe a region's hour (the dashboards' region and overview panels)
HISTORY_FAMILIES = (
    "yujing_region_complaints",
    "yujing_region_complaint_rate_per_10k_subscribers",
    "yujing_region_kpi",
    "yujing_kpi_info",  # each KPI's unit: the drill-down's KPI panels join it on
    "yujing_series_expected",
    "yujing_series_wow_change_ratio",
    "yujing_detector_firing",
    "yujing_detector_observed",
    "yujing_detector_baseline",
    "yujing_region_risk_score",
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class HistoryWriter:
    """Writes ``path`` as the pipeline judges hours; ``close()`` completes the file."""

    def __init__(self, pipeline: Pipeline, path: Path) -> None:
        self.path = path
        # its own instruments, refreshed only here (never by the wall clock)
        self.metrics = WorkerMetrics(pipeline, refresh_every_s=math.inf)
        self._spool: dict[str, IO[str]] = {}
        self._help: dict[str, str] = {}
        self.hours = 0
        self._stamp = 0  # the newest written: each series' samples go in time order
        pipeline.observe(tick=self.on_tick)

    def on_tick(self, result: TickResult) -> None:
        stamp = (result.hour + HOUR_MS) // 1000  # the hour is known once it has ended
        if stamp < self._stamp:
            # an older hour judged again (a correction, a region left behind): the gauges
            # show the newest hours, already written; stamped with the older hour they put
            # a later hour's values there (or a second sample promtool silently drops)
            return
        self._stamp = stamp
        self.metrics.refresh()
        for family in self.metrics.registry.collect():
            if family.name not in HISTORY_FAMILIES:
                continue
            self._help[family.name] = family.documentation
            lines = []
            for sample in family.samples:
                if not math.isfinite(sample.value):
                    continue
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
                lines.append(f"{sample.name}{{{labels}}} {sample.value!r} {stamp}\n")
            if lines:
                spool = self._spool.get(family.name)
                if spool is None:
                    spool = self._spool[family.name] = tempfile.TemporaryFile("w+")  # noqa: SIM115
                spool.writelines(lines)
        self.hours += 1

    def close(self) -> Path:
        """Join the families into the OpenMetrics file (ending in ``# EOF``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w") as out:
            for name in HISTORY_FAMILIES:
                spool = self._spool.pop(name, None)
                if spool is None:
                    continue
                out.write(f"# HELP {name} {_escape(self._help[name])}\n# TYPE {name} gauge\n")
                spool.seek(0)
                for line in spool:
                    out.write(line)
                spool.close()
            out.write("# EOF\n")
        return self.path
