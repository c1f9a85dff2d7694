"""Deterministic simulator of an operator's regions: complaints, KPIs and labelled incidents.

Rates follow the rhythms a NOC sees: broadband complaints peak in the evening, hotline
categories in office hours, weekends differ from weekdays. Incidents are injected as
multipliers on those rates (and shifts in KPIs) and written to a labels file, so the
pipeline's catches and misses can be scored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import orjson

from alerts.taxonomy import Category
from detectors.timeaxis import HOUR_MS, from_iso, to_iso
from monitor.events.schemas import Channel, Kpi

CATS: tuple[Category, ...] = tuple(Category)
C = {c: i for i, c in enumerate(CATS)}

# complaints per 10k subscribers per hour, daily mean
BASE_RATE = {
    Category.BROADBAND_LAG: 0.22,
    Category.WEAK_SIGNAL: 0.10,
    Category.BILLING_DISPUTE: 0.05,
    Category.INSTALL_REPAIR_TIMEOUT: 0.08,
    Category.CUMBERSOME_HANDLING: 0.04,
    Category.UNCLEAR_TERMS: 0.03,
    Category.UNKEPT_PROMISE: 0.03,
}


def _normalise(profile: list[float]) -> np.ndarray:
    arr = np.asarray(profile, dtype=float)
    return arr / arr.mean()


# hour-of-day shapes (local time)
EVENING = _normalise(
    [
        0.35,
        0.25,
        0.2,
        0.15,
        0.15,
        0.2,
        0.35,
        0.55,
        0.7,
        0.8,
        0.85,
        0.9,
        0.95,
        0.9,
        0.9,
        0.95,
        1.0,
        1.1,
        1.3,
        1.6,
        1.9,
        2.0,
        1.6,
        0.9,
    ]
)
OFFICE = _normalise(
    [
        0.15,
        0.1,
        0.08,
        0.08,
        0.1,
        0.15,
        0.3,
        0.7,
        1.2,
        1.6,
        1.7,
        1.6,
        1.3,
        1.5,
        1.6,
        1.6,
        1.5,
        1.3,
        1.0,
        0.8,
        0.6,
        0.45,
        0.3,
        0.2,
    ]
)
MOBILE = _normalise(
    [
        0.3,
        0.2,
        0.15,
        0.15,
        0.2,
        0.35,
        0.7,
        1.1,
        1.3,
        1.2,
        1.15,
        1.2,
        1.25,
        1.2,
        1.15,
        1.15,
        1.2,
        1.35,
        1.4,
        1.35,
        1.3,
        1.2,
        0.9,
        0.5,
    ]
)
UTIL = np.asarray(
    [
        0.45,
        0.35,
        0.3,
        0.28,
        0.28,
        0.32,
        0.45,
        0.65,
        0.8,
        0.85,
        0.88,
        0.9,
        0.92,
        0.9,
        0.9,
        0.92,
        0.95,
        1.0,
        1.1,
        1.25,
        1.4,
        1.45,
        1.25,
        0.8,
    ]
)

DAILY = {
    Category.BROADBAND_LAG: EVENING,
    Category.WEAK_SIGNAL: MOBILE,
    Category.BILLING_DISPUTE: OFFICE,
    Category.INSTALL_REPAIR_TIMEOUT: OFFICE,
    Category.CUMBERSOME_HANDLING: OFFICE,
    Category.UNCLEAR_TERMS: OFFICE,
    Category.UNKEPT_PROMISE: OFFICE,
}
# day-of-week multipliers, Monday first
HOME_WEEK = np.asarray([0.95, 0.95, 0.95, 0.95, 1.0, 1.1, 1.1])
OFFICE_WEEK = np.asarray([1.1, 1.05, 1.05, 1.05, 1.0, 0.85, 0.9])
WEEKLY = {
    c: (HOME_WEEK if c in (Category.BROADBAND_LAG, Category.WEAK_SIGNAL) else OFFICE_WEEK)
    for c in CATS
}
CHANNELS = tuple(Channel)
CHANNEL_WEIGHTS = np.asarray([0.5, 0.25, 0.1, 0.1, 0.05])
SAMPLES_PER_HOUR = 2  # KPI readings per site per hour (every 30 minutes)
SITES_PER_REGION = 2

TEXTS = {
    Category.BROADBAND_LAG: "宽带卡顿，晚上看视频很慢 / broadband lags in the evening",
    Category.WEAK_SIGNAL: "信号弱 / weak signal at home",
    Category.BILLING_DISPUTE: "话费扣费有误 / wrong charge on my bill",
    Category.INSTALL_REPAIR_TIMEOUT: "报修三天没人上门 / repair visit overdue",
    Category.CUMBERSOME_HANDLING: "办理流程太繁琐 / too many steps to get help",
    Category.UNCLEAR_TERMS: "套餐条款不清楚 / plan terms unclear",
    Category.UNKEPT_PROMISE: "承诺的优惠没兑现 / promised discount not applied",
}


@dataclass(frozen=True)
class SimConfig:
    seed: int = 7
    regions: int = 50
    weeks: int = 5
    start: str = "2026-10-05T00:00:00+08:00"  # a Monday, local midnight
    incidents: bool = True
    dirty: bool = False  # sprinkle malformed and late events
    kpi_reports: bool = False  # one KPI report per site and hour instead of single samples
    min_subscribers: int = 30_000
    max_subscribers: int = 200_000

    def __post_init__(self) -> None:
        if self.incidents and self.weeks < 5:
            raise ValueError(
                "incidents need at least 5 simulated weeks: two weeks of history "
                "for week-over-week baselines, then room for each incident"
            )
        if self.regions < 4 and self.incidents:
            raise ValueError("incidents need at least 4 regions (one per incident kind)")

    @property
    def hours(self) -> int:
        return self.weeks * 168

    @property
    def offset_hours(self) -> int:
        moment = datetime.fromisoformat(self.start)
        assert moment.utcoffset() is not None
        return int(moment.utcoffset().total_seconds() // 3600)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Label:
    id: str
    kind: str
    region: str
    metric: str
    start: int
    end: int
    related: tuple[str, ...] = ()
    peak: int | None = None  # the hour the problem was at its worst, when known

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "region": self.region,
            "metric": self.metric,
            "start": to_iso(self.start),
            "end": to_iso(self.end),
            "related": list(self.related),
        } | ({} if self.peak is None else {"peak": to_iso(self.peak)})

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Label:
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            region=str(data["region"]),
            metric=str(data["metric"]),
            start=from_iso(str(data["start"])),
            end=from_iso(str(data["end"])),
            related=tuple(data.get("related", ())),
            peak=from_iso(str(data["peak"])) if data.get("peak") else None,
        )  # type: ignore[arg-type]


@dataclass
class World:
    """Everything the simulator decided before drawing events: rates, KPI levels, labels."""

    config: SimConfig
    regions: list[str]
    subscribers: np.ndarray  # [R]
    rate: np.ndarray  # [R, C, T] expected complaints per hour
    util: np.ndarray  # [R, S, T] expected utilisation %
    loss: np.ndarray  # [R, S, T] expected packet loss %
    labels: list[Label] = field(default_factory=list)

    @property
    def start_ms(self) -> int:
        return from_iso(self.config.start)


def _worst_hour(world: World, region: int, metric: str, h0: int, h1: int) -> int:
    """Hours after ``h0`` at which the incident's metric was expected at its highest."""
    family, _, name = metric.partition(".")
    if family == "complaints":
        expected = world.rate[region, [c.value for c in CATS].index(name), h0:h1]
    elif name.startswith("bandwidth_utilisation"):
        expected = world.util[region, :, h0:h1].max(axis=0)
    else:
        expected = world.loss[region, :, h0:h1].max(axis=0)
    return int(np.argmax(expected)) if expected.size else 0


def _ramp(hours: int, ramp_hours: int) -> np.ndarray:
    return np.clip(np.arange(hours) / max(ramp_hours, 1), 0.0, 1.0)


def region_names(count: int) -> list[str]:
    """The simulated regions' names, the same in both simulators (configs carry over)."""
    return [f"region-{i + 1:03d}" for i in range(count)]


def build_world(config: SimConfig) -> World:
    rng = np.random.default_rng(config.seed)
    R, T, S = config.regions, config.hours, SITES_PER_REGION
    regions = region_names(R)
    subscribers = np.round(
        np.exp(rng.uniform(np.log(config.min_subscribers), np.log(config.max_subscribers), R)), -2
    )
    hod = np.arange(T) % 24
    dow = (np.arange(T) // 24) % 7
    rate = np.empty((R, len(CATS), T))
    for c, category in enumerate(CATS):
        shape = DAILY[category][hod] * WEEKLY[category][dow]
        rate[:, c, :] = (subscribers[:, None] / 1e4) * BASE_RATE[category] * shape[None, :]
    site_base = rng.uniform(28, 48, size=(R, S))
    util = site_base[:, :, None] * UTIL[hod][None, None, :]
    loss = rng.uniform(0.08, 0.25, size=(R, S))[:, :, None] * (1 + 0.3 * UTIL[hod])[None, None, :]
    world = World(config, regions, subscribers, rate, util, loss)
    if config.incidents:
        _inject(world, rng)
    return world


RELATED = {  # the other series each incident kind shows in (a detection there counts)
    "site_degradation": (  # the failing site is the region's network problem
        "kpi.packet_loss.mean",
        "kpi.packet_loss.max",
        "kpi.packet_loss.p95",
        "complaint_rate.broadband_lag",
        "complaints.weak_signal",
    ),
    "evening_congestion": (
        "kpi.bandwidth_utilisation.p95",
        "kpi.bandwidth_utilisation.mean",
        "complaints.broadband_lag",
        "complaint_rate.broadband_lag",
    ),
    "billing_fault": ("complaints.billing_dispute",),
    "install_repair_backlog": ("complaint_rate.install_repair_timeout",),
}


def _inject(world: World, rng: np.random.Generator) -> None:
    T = world.config.hours
    start = world.start_ms
    picks = rng.choice(len(world.regions), size=4, replace=False)
    a, b, c, d = (int(x) for x in picks)

    def label(
        kind: str, region: int, metric: str, h0: int, h1: int, related: tuple[str, ...] = ()
    ) -> None:
        world.labels.append(
            Label(
                id=f"inc-{len(world.labels) + 1:02d}-{kind}",
                kind=kind,
                region=world.regions[region],
                metric=metric,
                start=start + h0 * HOUR_MS,
                end=start + min(h1, T) * HOUR_MS,
                related=related,
                peak=start + (h0 + _worst_hour(world, region, metric, h0, min(h1, T))) * HOUR_MS,
            )
        )

    # (a) a site degrading over days: broadband complaints climb, packet loss creeps up
    h0 = 16 * 24 + int(rng.integers(0, 48))
    h1 = min(h0 + 9 * 24, T)
    ramp = _ramp(h1 - h0, 4 * 24)
    world.rate[a, C[Category.BROADBAND_LAG], h0:h1] *= 1.0 + 1.4 * ramp
    world.loss[a, 0, h0:h1] += 3.0 * ramp
    label(
        "site_degradation",
        a,
        "complaints.broadband_lag",
        h0,
        h1,
        RELATED["site_degradation"],
    )

    # (b) evening congestion: 20:00-22:00 on four evenings, a site near saturation
    day = 20 + int(rng.integers(0, 5))
    for k in range(4):
        e0 = (day + k) * 24 + 20
        world.util[b, 1, e0 : e0 + 2] = rng.uniform(93, 97, size=2)
        world.rate[b, C[Category.BROADBAND_LAG], e0 : e0 + 2] *= 1.8
    label(
        "evening_congestion",
        b,
        "kpi.bandwidth_utilisation.max",
        day * 24 + 20,
        (day + 3) * 24 + 22,
        RELATED["evening_congestion"],
    )

    # (c) a billing fault: a wrong bill run makes disputes spike for most of a day
    h0 = (18 + int(rng.integers(0, 8))) * 24 + 9
    h1 = h0 + 20
    world.rate[c, C[Category.BILLING_DISPUTE], h0:h1] *= 20.0
    label(
        "billing_fault",
        c,
        "complaint_rate.billing_dispute",
        h0,
        h1,
        RELATED["billing_fault"],
    )

    # (d) an install/repair backlog builds up in field service
    h0 = (15 + int(rng.integers(0, 5))) * 24
    h1 = min(h0 + 11 * 24, T)
    ramp = _ramp(h1 - h0, 6 * 24)
    world.rate[d, C[Category.INSTALL_REPAIR_TIMEOUT], h0:h1] *= 1.0 + 2.5 * ramp
    label(
        "install_repair_backlog",
        d,
        "complaints.install_repair_timeout",
        h0,
        h1,
        RELATED["install_repair_backlog"],
    )


class _TimeFormatter:
    """Fast local ISO 8601 strings: the hour prefix is formatted once per hour."""

    def __init__(self, offset_hours: int) -> None:
        self.zone = timezone(timedelta(hours=offset_hours))
        sign = "+" if offset_hours >= 0 else "-"
        self.suffix = f"{sign}{abs(offset_hours):02d}:00"
        self._hour: int | None = None
        self._prefix = ""

    def __call__(self, epoch_ms: int) -> str:
        hour = epoch_ms - epoch_ms % HOUR_MS
        if hour != self._hour:
            local = datetime.fromtimestamp(hour / 1000, tz=UTC).astimezone(self.zone)
            self._prefix = local.strftime("%Y-%m-%dT%H")
            self._hour = hour
        rest = epoch_ms - hour
        minutes, rest = divmod(rest, 60_000)
        seconds, millis = divmod(rest, 1000)
        return f"{self._prefix}:{minutes:02d}:{seconds:02d}.{millis:03d}{self.suffix}"


def _hour_events(
    world: World,
    t: int,
    rng: np.random.Generator,
    counts: np.ndarray,
    fmt: _TimeFormatter,
    serial: list[int],
) -> list[tuple[int, bytes]]:
    start = world.start_ms + t * HOUR_MS
    out: list[tuple[int, bytes]] = []
    regions = world.regions
    # complaints
    rs, cs = np.nonzero(counts)
    total = int(counts.sum())
    if total:
        offsets = rng.integers(0, HOUR_MS, size=total)
        channels = rng.choice(len(CHANNELS), size=total, p=CHANNEL_WEIGHTS)
        with_text = rng.random(total) < 0.3
        k = 0
        for r, c in zip(rs.tolist(), cs.tolist(), strict=True):
            category = CATS[c].value
            for _ in range(int(counts[r, c])):
                ts = start + int(offsets[k])
                serial[0] += 1
                event: dict[str, object] = {
                    "type": "complaint",
                    "id": f"c{world.config.seed}-{serial[0]}",
                    "event_time": fmt(ts),
                    "region": regions[r],
                    "category": category,
                    "channel": CHANNELS[int(channels[k])].value,
                }
                if with_text[k]:
                    event["text"] = TEXTS[CATS[c]]
                out.append((ts, orjson.dumps(event)))
                k += 1
    # KPI samples: every 30 minutes per site
    R = len(regions)
    noise_u = rng.normal(0.0, 2.5, size=(R, SITES_PER_REGION, SAMPLES_PER_HOUR))
    noise_l = rng.lognormal(0.0, 0.25, size=(R, SITES_PER_REGION, SAMPLES_PER_HOUR))
    noise_t = rng.normal(0.0, 1.5, size=(R, SITES_PER_REGION, SAMPLES_PER_HOUR))
    jitter = rng.integers(0, 20_000, size=(R, SITES_PER_REGION, SAMPLES_PER_HOUR))
    util = np.clip(world.util[:, :, t, None] + noise_u, 0.0, 100.0)
    loss = np.clip(world.loss[:, :, t, None] * noise_l, 0.0, 100.0)
    latency = np.clip(14.0 + 30.0 * (util / 100.0) ** 4 + 4.0 * loss + noise_t, 1.0, None)
    for r in range(R):
        region = regions[r]
        for s in range(SITES_PER_REGION):
            site = f"{region}-s{s + 1}"
            if world.config.kpi_reports:  # as an OSS export: the site's hour in one record
                out.append(
                    (
                        start + HOUR_MS - 1,
                        orjson.dumps(
                            {
                                "type": "kpi_report",
                                "period_start": fmt(start),
                                "interval_s": 3600 // SAMPLES_PER_HOUR,
                                "region": region,
                                "site": site,
                                "kpis": {
                                    kpi.value: [round(float(v), 3) for v in values[r, s]]
                                    for kpi, values in (
                                        (Kpi.BANDWIDTH_UTILISATION, util),
                                        (Kpi.PACKET_LOSS, loss),
                                        (Kpi.LATENCY, latency),
                                    )
                                },
                            }
                        ),
                    )
                )
                continue
            for q in range(SAMPLES_PER_HOUR):
                ts = start + q * (HOUR_MS // SAMPLES_PER_HOUR) + int(jitter[r, s, q])
                stamp = fmt(ts)
                for kpi, value in (
                    (Kpi.BANDWIDTH_UTILISATION, util[r, s, q]),
                    (Kpi.PACKET_LOSS, loss[r, s, q]),
                    (Kpi.LATENCY, latency[r, s, q]),
                ):
                    out.append(
                        (
                            ts,
                            orjson.dumps(
                                {
                                    "type": "kpi",
                                    "event_time": stamp,
                                    "region": region,
                                    "site": site,
                                    "kpi": kpi.value,
                                    "value": round(float(value), 3),
                                }
                            ),
                        )
                    )
    out.sort(key=lambda item: item[0])
    return out


BAD_LINES: tuple[bytes, ...] = (
    b'{"type": "complaint", "id": "bad-1", "event_time": "2026-10-05T10:00:00+08:00"',
    b'{"type": "complaint", "event_time": "2026-10-05T10:00:00+08:00", "region": "region-001",'
    b' "category": "broadband_lag", "channel": "app"}',
    b'{"type": "complaint", "id": "bad-3", "event_time": "2026-10-05T10:00:00+08:00",'
    b' "region": "region-001", "category": "alien_abduction", "channel": "app"}',
    b'{"type": "kpi", "event_time": "2026-10-05T10:00:00+08:00", "region": "region-001",'
    b' "site": "region-001-s1", "kpi": "latency", "value": "fast"}',
    b'{"type": "kpi", "event_time": "2026-10-05T10:00:00+08:00", "region": "region-001",'
    b' "site": "region-001-s1", "kpi": "packet_loss", "value": NaN}',
    b'{"type": "complaint", "id": "bad-6", "event_time": "2026-10-05 10:00:00",'
    b' "region": "region-001", "category": "weak_signal", "channel": "app"}',
    b"[1, 2, 3]",
)


def generate(config: SimConfig) -> tuple[World, Iterator[bytes]]:
    """The world and a lazy stream of JSON lines in (roughly) event-time order."""
    world = build_world(config)

    def lines() -> Iterator[bytes]:
        rng = np.random.default_rng(config.seed + 1)
        fmt = _TimeFormatter(config.offset_hours)
        for r, region in enumerate(world.regions):
            yield orjson.dumps(
                {"type": "region", "region": region, "subscribers": int(world.subscribers[r])}
            )
        serial = [0]
        for t in range(config.hours):
            counts = rng.poisson(world.rate[:, :, t])
            events = _hour_events(world, t, rng, counts, fmt, serial)
            if config.dirty and t % 24 == 12 and events:
                yield from _dirty_lines(world, t, rng, fmt)
            for _, line in events:
                yield line

    return world, lines()


def _dirty_lines(
    world: World, t: int, rng: np.random.Generator, fmt: _TimeFormatter
) -> Iterator[bytes]:
    """A few bad lines a day, and one event far too late (a day old), to exercise DLQs."""
    yield BAD_LINES[int(rng.integers(0, len(BAD_LINES)))]
    if t >= 48:
        ts = world.start_ms + (t - 30) * HOUR_MS + 1
        yield orjson.dumps(
            {
                "type": "complaint",
                "id": f"late-{t}",
                "event_time": fmt(ts),
                "region": world.regions[0],
                "category": "weak_signal",
                "channel": "hotline",
            }
        )


def write(config: SimConfig, out_dir: Path) -> tuple[Path, Path, int]:
    """Write ``events.jsonl`` and ``labels.json``; returns their paths and the line count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    world, lines = generate(config)
    events_path, labels_path = out_dir / "events.jsonl", out_dir / "labels.json"
    n = 0
    with events_path.open("wb") as fh:
        for line in lines:
            fh.write(line + b"\n")
            n += 1
    write_labels(config, world.labels, labels_path)
    return events_path, labels_path, n


def write_labels(config: SimConfig, labels: list[Label], path: Path) -> None:
    path.write_bytes(
        orjson.dumps(
            {
                "seed": config.seed,
                "regions": config.regions,
                "weeks": config.weeks,
                "start": config.start,
                "incidents": [lab.to_json() for lab in labels],
            },
            option=orjson.OPT_INDENT_2,
        )
    )


def read_labels(path: Path) -> list[Label]:
    data = orjson.loads(path.read_bytes())
    return [Label.from_json(item) for item in data["incidents"]]
