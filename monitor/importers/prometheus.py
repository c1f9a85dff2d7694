"""KPIs from a Prometheus: range queries over history, into hourly values for a backtest.

An operator's network KPIs often live in a Prometheus already (exporters on the OSS side,
one series per site). A backtest wants months of them: Prometheus answers a range query
with at most 11,000 points per series, so the span is asked for in chunks of
``MAX_POINTS`` steps; each series' region comes from one of its labels.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from monitor.importers.csv_import import HourlyValues
from monitor.importers.csv_rows import REGION, Value

MAX_POINTS = 10_000  # per series and request: under Prometheus's 11,000


class PrometheusError(RuntimeError):
    """Prometheus could not be asked or refused the query: one line saying why."""


@dataclass
class BackfillReport:
    series: int = 0
    samples: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> series or samples
    regions: set[str] = field(default_factory=set)


def chunks(start_ms: int, end_ms: int, step_s: int) -> Iterator[tuple[int, int]]:
    """(first, last) evaluation times in ms, at most ``MAX_POINTS`` steps each, covering
    ``start_ms..end_ms`` without evaluating a time twice."""
    step = step_s * 1000
    first = start_ms
    while first <= end_ms:
        last = min(first + (MAX_POINTS - 1) * step, end_ms)
        yield first, last
        first = last + step


def query_range(
    client: httpx.Client, url: str, query: str, first_ms: int, last_ms: int, step_s: int
) -> list[dict[str, object]]:
    try:
        response = client.get(
            f"{url.rstrip('/')}/api/v1/query_range",
            params={
                "query": query,
                "start": f"{first_ms / 1000:.3f}",
                "end": f"{last_ms / 1000:.3f}",
                "step": str(step_s),
            },
        )
    except httpx.HTTPError as exc:
        raise PrometheusError(f"cannot reach Prometheus at {url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError as exc:
        raise PrometheusError(
            f"{url} answered HTTP {response.status_code} without JSON: is it a Prometheus?"
        ) from exc
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "") if isinstance(body, dict) else ""
        kind = body.get("errorType", "") if isinstance(body, dict) else ""
        raise PrometheusError(f"Prometheus refused the query ({kind}): {error}")
    data = body.get("data", {})
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        raise PrometheusError("the query does not give a range of series (a matrix)")
    result = data.get("result", [])
    return result if isinstance(result, list) else []


def backfill(
    client: httpx.Client,
    url: str,
    query: str,
    start_ms: int,
    end_ms: int,
    step_s: int,
    metric: str,
    region_label: str,
    hourly: HourlyValues,
) -> BackfillReport:
    """Every sample of ``query`` between the two times into ``hourly`` as ``metric``."""
    report = BackfillReport()
    seen: set[tuple[tuple[str, str], ...]] = set()
    for first, last in chunks(start_ms, end_ms, step_s):
        for series in query_range(client, url, query, first, last, step_s):
            labels = series.get("metric", {}) if isinstance(series, dict) else {}
            labels = labels if isinstance(labels, dict) else {}
            identity = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
            if identity not in seen:
                seen.add(identity)
                report.series += 1
            region = str(labels.get(region_label, ""))
            values = series.get("values", []) if isinstance(series, dict) else []
            if not REGION.match(region):
                report.skipped[f"no usable {region_label} label"] += len(values)
                continue
            report.regions.add(region)
            for point in values:
                try:
                    at, text = point
                    number = float(text)
                    when = round(float(at) * 1000)
                except (TypeError, ValueError):
                    report.skipped["malformed sample"] += 1
                    continue
                if not math.isfinite(number):
                    report.skipped["non_finite"] += 1
                    continue
                hourly.add(Value(region, when, metric, number))
                report.samples += 1
    return report
