"""The simulator's world at hourly resolution: a year of 1,000 regions without raw events.

The event simulator draws every complaint and KPI sample (about 10 events per region-hour
in its default world); a year of 1,000 regions would be ~90 million events. A backtest of
a detector config over a year needs only the hourly aggregates, so this draws them
directly from the same rate model (the same daily and weekly rhythms, subscribers and
incident shapes), a week at a time to bound memory, with incidents of each kind spread
over the year and written as labels.
"""

from __future__ import annotations

import numpy as np

from detectors.timeaxis import HOUR_MS, WEEK_HOURS, from_iso
from monitor.detection.hourly_file import HourlySeries
from monitor.lab.simulate_events import (
    BASE_RATE,
    CATS,
    DAILY,
    RELATED,
    SAMPLES_PER_HOUR,
    SITES_PER_REGION,
    UTIL,
    WEEKLY,
    Label,
    SimConfig,
    region_names,
)
from monitor.windows.aggregation import (
    KPI_STATS,
    RATE_PER,
    READINGS,
    SITES,
    complaints_metric,
    kpi_metric,
    metric_names,
    rate_metric,
)

SIMULATED = [
    m
    for m in metric_names()
    if not m.startswith("kpi.") or m.split(".")[1] in ("bandwidth_utilisation", "packet_loss")
]
KINDS = ("site_degradation", "evening_congestion", "billing_fault", "install_repair_backlog")


def plan_incidents(config: SimConfig, rng: np.random.Generator, regions: list[str]) -> list[Label]:
    """One incident of each kind every five weeks after the first three (history), each
    in a different region; a world too short for that (4 to 5 weeks, the default) gets one
    round in its last weeks, as the event simulator's worlds do."""
    start = from_iso(config.start)
    labels: list[Label] = []
    rounds = [
        (r, 2 * WEEK_HOURS)
        for r in range(3 * WEEK_HOURS, config.hours - 2 * WEEK_HOURS, 5 * WEEK_HOURS)
    ]
    if not rounds and config.hours >= 4 * WEEK_HOURS:
        rounds = [(3 * WEEK_HOURS, min(2 * WEEK_HOURS, config.hours - 4 * WEEK_HOURS + 24))]
    for round_start, spread in rounds:
        picks = rng.choice(len(regions), size=min(len(KINDS), len(regions)), replace=False)
        for kind, r in zip(KINDS, picks, strict=False):
            h0 = round_start + int(rng.integers(0, spread)) // 24 * 24
            if kind == "site_degradation":
                h0, h1, metric = (
                    h0 + int(rng.integers(0, 24)),
                    h0 + 9 * 24,
                    "complaints.broadband_lag",
                )
            elif kind == "evening_congestion":
                h0, h1, metric = h0 + 20, h0 + 3 * 24 + 2, "kpi.bandwidth_utilisation.max"
            elif kind == "billing_fault":
                h0, h1, metric = h0 + 9, h0 + 29, "complaint_rate.billing_dispute"
            else:
                h1, metric = h0 + 11 * 24, "complaints.install_repair_timeout"
            h1 = min(h1, config.hours)
            labels.append(
                Label(
                    id=f"inc-{len(labels) + 1:03d}-{kind}",
                    kind=kind,
                    region=regions[r],
                    metric=metric,
                    start=start + h0 * HOUR_MS,
                    end=start + h1 * HOUR_MS,
                    related=RELATED[kind],
                )
            )
    return labels


def simulate_hourly(
    config: SimConfig, metrics: list[str] | None = None
) -> tuple[HourlySeries, list[Label]]:
    """Hourly aggregates of ``config``'s world (float32) and its labelled incidents."""
    rng = np.random.default_rng(config.seed)
    R, T, S = config.regions, config.hours, SITES_PER_REGION
    regions = region_names(R)
    subscribers = np.round(
        np.exp(rng.uniform(np.log(config.min_subscribers), np.log(config.max_subscribers), R)), -2
    )
    site_util = rng.uniform(28, 48, size=(R, S))
    site_loss = rng.uniform(0.08, 0.25, size=(R, S))
    labels = plan_incidents(config, rng, regions) if config.incidents else []
    start = from_iso(config.start)
    row = {r: i for i, r in enumerate(regions)}
    names = metrics or SIMULATED
    unknown = sorted(set(names) - set(SIMULATED))
    if unknown:
        raise ValueError(
            f"the simulator has no {', '.join(unknown)}; it simulates {', '.join(SIMULATED)}"
        )
    out = {m: np.empty((R, T), dtype=np.float32) for m in names}
    for w0 in range(0, T, WEEK_HOURS):
        t = np.arange(w0, min(w0 + WEEK_HOURS, T))
        hod, dow = t % 24, (t // 24) % 7
        rate = np.empty((R, len(CATS), len(t)))
        for c, category in enumerate(CATS):
            shape = DAILY[category][hod] * WEEKLY[category][dow]
            rate[:, c, :] = (subscribers[:, None] / RATE_PER) * BASE_RATE[category] * shape
        util = site_util[:, :, None] * UTIL[hod][None, None, :]
        loss = site_loss[:, :, None] * (1 + 0.3 * UTIL[hod])[None, None, :]
        for label in labels:
            _apply(label, rate, util, loss, row[label.region], (label.start - start) // HOUR_MS, t)
        counts = rng.poisson(rate)
        samples = (R, S, SAMPLES_PER_HOUR, len(t))
        util_s = np.clip(util[:, :, None, :] + rng.normal(0.0, 2.5, size=samples), 0, 100)
        loss_s = np.clip(loss[:, :, None, :] * rng.lognormal(0.0, 0.25, size=samples), 0, 100)
        cols = slice(w0, w0 + len(t))
        per_category = {category.value: counts[:, c] for c, category in enumerate(CATS)}
        per_category["total"] = counts.sum(axis=1)
        for key, values in per_category.items():
            for name, value in (
                (complaints_metric(key), values),
                (rate_metric(key), values * (RATE_PER / subscribers[:, None])),
            ):
                if name in out:
                    out[name][:, cols] = value
        for kpi, samples_of in (("bandwidth_utilisation", util_s), ("packet_loss", loss_s)):
            for stat in KPI_STATS:
                name = kpi_metric(kpi, stat)
                if name in out:
                    out[name][:, cols] = _stat(samples_of, stat)
            # every site sends every reading: the counts of what arrived never waver
            for stat, count in ((READINGS, S * SAMPLES_PER_HOUR), (SITES, S)):
                name = kpi_metric(kpi, stat)
                if name in out:
                    out[name][:, cols] = count
    return HourlySeries(regions, start - start % HOUR_MS, out), labels


def _stat(samples: np.ndarray, stat: str) -> np.ndarray:
    """One hour's statistic over every site's readings: [regions, sites, samples, hours]."""
    flat = samples.reshape(samples.shape[0], -1, samples.shape[-1])
    if stat == "mean":
        return flat.mean(axis=1)
    if stat == "max":
        return flat.max(axis=1)
    return np.percentile(flat, 95, axis=1)


def _apply(
    label: Label,
    rate: np.ndarray,
    util: np.ndarray,
    loss: np.ndarray,
    r: int,
    h0: int,
    t: np.ndarray,
) -> None:
    """Multiply this week's rates (and shift KPIs) where the incident overlaps it; the
    shapes are the event simulator's."""
    h1 = h0 + (label.end - label.start) // HOUR_MS
    inside = (t >= h0) & (t < h1)
    if not inside.any():
        return
    age = t[inside] - h0
    c = {cat.value: i for i, cat in enumerate(CATS)}
    if label.kind == "site_degradation":
        ramp = np.clip(age / (4 * 24), 0, 1)
        rate[r, c["broadband_lag"], inside] *= 1.0 + 1.4 * ramp
        loss[r, 0, inside] += 3.0 * ramp
    elif label.kind == "evening_congestion":
        evening = inside & ((t - h0) % 24 < 2)
        util[r, 1, evening] = 95.0
        rate[r, c["broadband_lag"], evening] *= 1.8
    elif label.kind == "billing_fault":
        rate[r, c["billing_dispute"], inside] *= 20.0
    else:
        rate[r, c["install_repair_timeout"], inside] *= 1.0 + 2.5 * np.clip(age / (6 * 24), 0, 1)
