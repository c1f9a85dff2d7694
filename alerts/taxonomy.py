"""Complaint categories and department routing: which team inspects what.

The categories are the operator's default taxonomy, grouped by cause family.

Network faults go to network maintenance, billing disputes to billing, install/repair
delays to field service; anything else, or anything spanning departments, to a coordinator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class Category(StrEnum):
    """Complaint categories, grouped by the cause families the operator uses."""

    # service process
    INSTALL_REPAIR_TIMEOUT = "install_repair_timeout"
    CUMBERSOME_HANDLING = "cumbersome_handling"
    # product quality
    WEAK_SIGNAL = "weak_signal"
    BROADBAND_LAG = "broadband_lag"
    BILLING_DISPUTE = "billing_dispute"
    # misunderstanding
    UNCLEAR_TERMS = "unclear_terms"
    UNKEPT_PROMISE = "unkept_promise"


CAUSE_FAMILY: dict[Category, str] = {
    Category.INSTALL_REPAIR_TIMEOUT: "service_process",
    Category.CUMBERSOME_HANDLING: "service_process",
    Category.WEAK_SIGNAL: "product_quality",
    Category.BROADBAND_LAG: "product_quality",
    Category.BILLING_DISPUTE: "product_quality",
    Category.UNCLEAR_TERMS: "misunderstanding",
    Category.UNKEPT_PROMISE: "misunderstanding",
}


class Department(StrEnum):
    NETWORK_MAINTENANCE = "network_maintenance"
    BILLING = "billing"
    FIELD_SERVICE = "field_service"
    SERVICE_COORDINATOR = "service_coordinator"


CATEGORY_DEPARTMENT: dict[Category, Department] = {
    Category.BROADBAND_LAG: Department.NETWORK_MAINTENANCE,
    Category.WEAK_SIGNAL: Department.NETWORK_MAINTENANCE,
    Category.BILLING_DISPUTE: Department.BILLING,
    Category.INSTALL_REPAIR_TIMEOUT: Department.FIELD_SERVICE,
    Category.CUMBERSOME_HANDLING: Department.SERVICE_COORDINATOR,
    Category.UNCLEAR_TERMS: Department.SERVICE_COORDINATOR,
    Category.UNKEPT_PROMISE: Department.SERVICE_COORDINATOR,
}


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    name: str
    group: str  # the cause family: service_process, product_quality, misunderstanding
    department: Department  # who inspects a rise of it


@dataclass(frozen=True, slots=True)
class KpiInfo:
    name: str
    unit: str
    low: float  # valid range: a reading outside it is an instrument fault (dead letter)
    high: float
    worse: str = "higher"  # which direction is a degradation: higher | lower


@dataclass(frozen=True)
class Taxonomy:
    """An operator's vocabulary: complaint categories (with their cause family and the
    department that inspects them), channels and network KPIs. The defaults are today's;
    a config declares its own, and validation, metric names and routing follow it."""

    categories: tuple[CategoryInfo, ...]
    channels: tuple[str, ...]
    kpis: tuple[KpiInfo, ...]

    # computed once: validation asks for these for every event
    @cached_property
    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    @cached_property
    def kpi_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kpis)

    @cached_property
    def _kpi_by_name(self) -> dict[str, KpiInfo]:
        return {k.name: k for k in self.kpis}

    def kpi(self, name: str) -> KpiInfo | None:
        return self._kpi_by_name.get(name)

    def routing(self) -> dict[str, Department]:
        """Category -> department, as the routing table's defaults."""
        return {c.name: c.department for c in self.categories}


DEFAULT_TAXONOMY = Taxonomy(
    categories=tuple(
        CategoryInfo(c.value, CAUSE_FAMILY[c], CATEGORY_DEPARTMENT[c]) for c in Category
    ),
    channels=("hotline", "app", "web", "store", "social"),
    kpis=(
        KpiInfo("bandwidth_utilisation", "%", 0.0, 100.0),
        KpiInfo("packet_loss", "%", 0.0, 100.0),
        KpiInfo("latency", "ms", 0.0, 600_000.0),
    ),
)


def category_of(metric: str) -> str | None:
    """``complaints.billing_dispute`` -> billing_dispute; KPI and total metrics have none."""
    family, _, rest = metric.partition(".")
    if family in ("complaints", "complaint_rate") and rest and rest != "total":
        return rest
    return None


def kpi_of(metric: str) -> str | None:
    """``kpi.packet_loss.mean`` -> packet_loss; complaint metrics have none."""
    family, _, rest = metric.partition(".")
    return (rest.rpartition(".")[0] or None) if family == "kpi" else None


# a KPI's hourly statistics: over its readings' values (in the KPI's unit), and counts of
# what arrived (readings, and sites that sent any), which say whether its feed is alive
KPI_VALUE_STATS = ("mean", "max", "p95")
KPI_COUNT_STATS = ("readings", "sites")


def kpi_counts_arrivals(metric: str) -> bool:
    """``kpi.packet_loss.readings``: a count of what arrived, in no unit of the KPI's."""
    return metric.startswith("kpi.") and metric.rpartition(".")[2] in KPI_COUNT_STATS


# the routing table's keys besides the categories
ROUTING_EXTRA_KEYS = frozenset({"kpi", "total"})


def routing_key(metric: str) -> str:
    """The routing table's key for a metric: its category, ``kpi`` or ``total``."""
    if metric.startswith("kpi."):
        return "kpi"
    category = category_of(metric)
    return "total" if category is None else category


def department_for(metric: str, table: dict[str, str] | None = None) -> Department:
    """The operator's table first (config ``alerts.routing``, which the config fills with
    its taxonomy's departments), then the default taxonomy's; a category neither knows
    spans departments: a coordinator."""
    key = routing_key(metric)
    if table and key in table:
        return Department(table[key])
    if key == "kpi":
        return Department.NETWORK_MAINTENANCE  # a degrading network KPI is a network matter
    if key == "total":
        return Department.SERVICE_COORDINATOR  # totals span departments: a coordinator
    return DEFAULT_TAXONOMY.routing().get(key, Department.SERVICE_COORDINATOR)
