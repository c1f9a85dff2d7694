"""Department routing: which team inspects what, per the operator's service policy.

Network faults go to network maintenance, billing disputes to billing, install/repair
delays to field service; anything else, or anything spanning departments, to a coordinator.
"""

from __future__ import annotations

from enum import StrEnum

from monitor.schemas import Category


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


def department_for(metric: str) -> Department:
    if metric.startswith("kpi."):
        return Department.NETWORK_MAINTENANCE  # a degrading network KPI is a network matter
    category = category_of(metric)
    if category is None:
        return Department.SERVICE_COORDINATOR  # totals span departments
    return CATEGORY_DEPARTMENT[category]
