"""Complaint categories and department routing: which team inspects what.

The categories are the operator's default taxonomy, grouped by cause family.

Network faults go to network maintenance, billing disputes to billing, install/repair
delays to field service; anything else, or anything spanning departments, to a coordinator.
"""

from __future__ import annotations

from enum import StrEnum


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


def category_of(metric: str) -> Category | None:
    """``complaints.billing_dispute`` -> billing_dispute; KPI and total metrics have none."""
    family, _, rest = metric.partition(".")
    if family in ("complaints", "complaint_rate"):
        try:
            return Category(rest)
        except ValueError:
            return None
    return None


ROUTING_KEYS = frozenset({c.value for c in Category} | {"kpi", "total"})


def routing_key(metric: str) -> str:
    """The routing table's key for a metric: its category, ``kpi`` or ``total``."""
    if metric.startswith("kpi."):
        return "kpi"
    category = category_of(metric)
    return "total" if category is None else category.value


def department_for(metric: str, table: dict[str, str] | None = None) -> Department:
    """The operator's table first (config ``alerts.routing``), then the policy's defaults."""
    key = routing_key(metric)
    if table and key in table:
        return Department(table[key])
    if key == "kpi":
        return Department.NETWORK_MAINTENANCE  # a degrading network KPI is a network matter
    if key == "total":
        return Department.SERVICE_COORDINATOR  # totals span departments: a coordinator
    return CATEGORY_DEPARTMENT[Category(key)]
