"""Which sites of a region have left their usual level: what an inspection ticket names.

Detectors judge a region's hourly series; the network team inspects sites. Each hour,
per region and KPI, every site's mean is set against the median of the region's sites in
that hour: the day's cycle, which all sites share, cancels out. The median is of the
*other* sites: in a region of two or three, a failing site's own readings lifted the
median it was set against (region-033's s1 doubled its packet loss and moved +20% against
that median, too little to be named on the ticket on-call read first). The ledger keeps two
exponentially weighted means of that ratio per site, a fast one (the last hours) and a
slow one (its usual, over about a week). A site whose ratio has moved furthest from its
usual, in the KPI's worse direction, is the one to inspect first; a busy site that
always runs hotter than the others is its usual self and is not named. Memory: a few
floats per region, KPI and site (the windows cap the sites per region and hour); lost at
a restart, rebuilt in hours.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from statistics import median

from alerts.zones import local_text
from detectors.timeaxis import HOUR_MS
from monitor.windows.aggregation import MAX_SITES, HourlyAggregate

FAST_HOURS = 6.0  # the site now
SLOW_HOURS = 168.0  # the site's usual: about a week
MIN_DEPARTURE = 0.25  # of the usual level: less is a site's ordinary variation
NAMED = 3  # sites a ticket names at most
MAX_HEARD = 2 * MAX_SITES  # sites remembered per region and KPI (the windows keep as many an hour)


@dataclass(slots=True)
class SiteLevel:
    fast: float  # the site's ratio to the region's median, recently
    slow: float  # ... usually
    hour: int  # newest hour folded in (a correction of an older hour is not refolded)
    now: float  # its mean in that hour
    median: float  # the region's sites' median in that hour


@dataclass(frozen=True, slots=True)
class Silence:
    site: str
    kpi: str
    last_hour: int  # the last hour with its readings


@dataclass(frozen=True, slots=True)
class Departure:
    site: str
    kpi: str
    now: float
    median: float  # of the region's sites, the same hour
    # how far its ratio to the median moved from its usual (``departures``), or how far
    # above the median it stands (``hottest``); 0.5: +50%
    moved: float


class SiteLedger:
    """Per region, KPI and site, the site against the region's other sites."""

    def __init__(self, worse: dict[str, str] | None = None) -> None:
        # kpi -> "higher" | "lower": which direction is a degradation (the taxonomy's)
        self.worse = dict(worse or {})
        self.levels: dict[str, dict[str, dict[str, SiteLevel]]] = {}
        # region -> kpi -> site -> the newest hour with its readings: a site heard before
        # the region's newest hour and not in it has gone silent
        self.heard: dict[str, dict[str, dict[str, int]]] = {}

    def record(self, aggregate: HourlyAggregate) -> None:
        """Fold in one region-hour's site means."""
        hour = aggregate.hour
        if not aggregate.site_means:
            return
        region = self.levels.setdefault(aggregate.region, {})
        heard = self.heard.setdefault(aggregate.region, {})
        for kpi, sites in aggregate.site_means.items():
            last = heard.setdefault(kpi, {})
            for site in sites:
                if last.get(site, hour - 1) < hour:
                    last[site] = hour
            if len(last) > MAX_HEARD:  # renamed and retired sites: the longest silent go
                for site in sorted(last, key=last.__getitem__)[: len(last) - MAX_HEARD]:
                    del last[site]
            if len(sites) < 2:
                continue  # one site has no others to be set against
            middle = median(sites.values())  # what a ticket shows beside a site
            if not middle > 0:
                continue
            ranked = sorted(sites.values())
            known = region.setdefault(kpi, {})
            for site, mean in sites.items():
                others = median_without(ranked, mean)
                if not others > 0:
                    continue
                ratio = mean / others
                level = known.get(site)
                if level is None:
                    known[site] = SiteLevel(ratio, ratio, aggregate.hour, mean, middle)
                elif aggregate.hour > level.hour:
                    level.fast += (ratio - level.fast) / FAST_HOURS
                    level.slow += (ratio - level.slow) / SLOW_HOURS
                    level.hour, level.now, level.median = aggregate.hour, mean, middle

    def departures(self, region: str, kpis: list[str] | None = None) -> list[Departure]:
        """The region's sites whose standing among its sites worsened most (by at least
        MIN_DEPARTURE) and that are now worse than its middle, furthest first; one entry
        per site (its worst KPI)."""
        by_site: dict[str, Departure] = {}
        for kpi, sites in self.levels.get(region, {}).items():
            if kpis is not None and kpi not in kpis:
                continue
            sign = -1.0 if self.worse.get(kpi) == "lower" else 1.0
            for site, level in sites.items():
                moved = sign * (level.fast / max(level.slow, 1e-9) - 1.0)
                if moved < MIN_DEPARTURE or sign * (level.fast - 1.0) <= 0:
                    continue  # ordinary for it, or still better than the region's middle
                held = by_site.get(site)
                if held is None or moved > held.moved:
                    by_site[site] = Departure(site, kpi, level.now, level.median, moved)
        return sorted(by_site.values(), key=lambda d: -d.moved)[:NAMED]

    def hottest(self, region: str, kpi: str, hour: int) -> list[Departure]:
        """The region's sites worse than its middle in ``hour`` on ``kpi``, furthest first:
        what a capacity ticket names. A site that always runs hotter than the others is
        its usual self to ``departures``, and the very site a capacity plan is about. Only
        sites whose newest hour is ``hour`` (the pipeline folds each hour in as it judges
        it, so that is the judged hour's standing)."""
        sign = -1.0 if self.worse.get(kpi) == "lower" else 1.0
        hot = [
            Departure(site, kpi, level.now, level.median, sign * (level.now / level.median - 1))
            for site, level in self.levels.get(region, {}).get(kpi, {}).items()
            if level.hour == hour and sign * (level.now - level.median) > 0
        ]
        return sorted(hot, key=lambda d: -d.moved)[:NAMED]

    def silent(self, region: str, hour: int, kpis: list[str] | None = None) -> list[Silence]:
        """The region's sites heard within ``SLOW_HOURS`` before ``hour`` and not in it
        (of ``kpis``, default every KPI), the latest to fall silent first: what a ticket on
        a dead feed judged at ``hour`` names. A site silent for longer is old news
        (retired, renamed) and is not named."""
        by_site: dict[str, Silence] = {}
        for kpi, sites in self.heard.get(region, {}).items():
            if kpis is not None and kpi not in kpis:
                continue
            for site, last in sites.items():
                if hour - SLOW_HOURS * HOUR_MS <= last < hour:
                    held = by_site.get(site)
                    if held is None or last > held.last_hour:
                        by_site[site] = Silence(site, kpi, last)
        return sorted(by_site.values(), key=lambda s: (-s.last_hour, s.site))


def median_without(ranked: Sequence[float], value: float) -> float:
    """The median of ``ranked`` (sorted, two or more) less one occurrence of ``value``,
    without copying: each site of a region is set against the others' median."""
    i = bisect_left(ranked, value)
    n = len(ranked) - 1  # what is left

    def at(k: int) -> float:
        return ranked[k] if k < i else ranked[k + 1]

    half = n // 2
    return at(half) if n % 2 else (at(half - 1) + at(half)) / 2


def silent_sites(silences: list[Silence], zone: tzinfo) -> tuple[str, ...]:
    """What a ticket says of them: the first ``NAMED`` with the time their readings
    stopped in the operator's zone, then how many more."""
    named = tuple(
        f"{s.site} (no {s.kpi} reading since {local_text(s.last_hour + HOUR_MS, zone)})"
        for s in silences[:NAMED]
    )
    more = len(silences) - NAMED
    return named + ((f"{more} more sites silent",) if more > 0 else ())
