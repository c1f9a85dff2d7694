"""Event schemas: what a complaint, a KPI sample and a region record look like on the wire.

The wire format is one JSON object per event. The same payloads travel in JSONL files
(where a ``type`` field tells the kinds apart) and on Kafka topics (where the topic does).
Times are ISO 8601 with an offset, or epoch milliseconds; internally every time is an
integer of epoch milliseconds in UTC, so window arithmetic never touches time zones.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alerts.taxonomy import DEFAULT_TAXONOMY, Taxonomy

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_new, _set = object.__new__, object.__setattr__
REGION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Kpi(StrEnum):
    """Network KPIs sampled per site; units are part of the name's contract."""

    BANDWIDTH_UTILISATION = "bandwidth_utilisation"  # percent of capacity, 0..100
    PACKET_LOSS = "packet_loss"  # percent of packets, 0..100
    LATENCY = "latency"  # milliseconds, round trip


KPI_RANGES: dict[Kpi, tuple[float, float]] = {
    Kpi.BANDWIDTH_UTILISATION: (0.0, 100.0),
    Kpi.PACKET_LOSS: (0.0, 100.0),
    Kpi.LATENCY: (0.0, 600_000.0),
}


class Channel(StrEnum):
    HOTLINE = "hotline"
    APP = "app"
    WEB = "web"
    STORE = "store"
    SOCIAL = "social"


def _datetime_to_ms(moment: datetime) -> int:
    """Exact integer milliseconds (float timestamps lose the last digit near hour edges)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_epoch_ms(value: object) -> object:
    """Accept ISO 8601 with an explicit offset, or epoch milliseconds; reject naive times.

    A naive time would be read in the consumer's zone and silently shift a whole region's
    hours, so it is an error, not a guess.
    """
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time with offset or epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("time is not a finite number")
        return int(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
        if parsed.tzinfo is None:
            raise ValueError("time has no UTC offset (write e.g. +08:00 or Z)")
        return _datetime_to_ms(parsed)
    raise ValueError("expected an ISO 8601 time with offset or epoch milliseconds")


EpochMs = Annotated[int, BeforeValidator(to_epoch_ms), Field(ge=0)]
Region = Annotated[str, Field(pattern=REGION_PATTERN)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> Self:
        """An event from values already validated (by ``decoding``, or by the intake
        before they crossed a bundle): every field, in the model's order. Validating
        again cost 5-13 µs an event; ``model_construct`` still ~2.7 µs (its defaults and
        field-set bookkeeping), this ~0.5."""
        event = _new(cls)
        _set(event, "__dict__", values)
        _set(event, "__pydantic_fields_set__", _fields_of(cls))
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event

    @property
    def readings(self) -> int:
        """Measurements this event carries (a complaint or a sample is one)."""
        return 1


@cache
def _fields_of(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields)


def taxonomy_of(info: ValidationInfo) -> Taxonomy:
    """The vocabulary events are validated against: the config's, passed by the pipeline
    as validation context (the default taxonomy otherwise)."""
    context = info.context if isinstance(info.context, dict) else {}
    taxonomy = context.get("taxonomy")
    return taxonomy if isinstance(taxonomy, Taxonomy) else DEFAULT_TAXONOMY


def _one_of(kind: str, value: str, known: tuple[str, ...]) -> str:
    if value not in known:
        raise PydanticCustomError(
            f"unknown_{kind}", f"{value!r} is no known {kind}; known: {', '.join(known)}"
        )
    return value


Name = Annotated[str, Field(min_length=1, max_length=64)]


class ComplaintEvent(_Event):
    """One customer complaint as the CRM records it."""

    type: Literal["complaint"] = "complaint"
    id: Annotated[str, Field(min_length=1, max_length=128)]
    event_time: EpochMs
    region: Region
    category: Name
    channel: Name
    text: Annotated[str | None, Field(max_length=4000)] = None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str, info: ValidationInfo) -> str:
        return _one_of("category", value, taxonomy_of(info).category_names)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str, info: ValidationInfo) -> str:
        return _one_of("channel", value, taxonomy_of(info).channels)


class KpiSample(_Event):
    """One KPI reading of one site, as an OSS export reports it."""

    type: Literal["kpi"] = "kpi"
    event_time: EpochMs
    region: Region
    site: Annotated[str, Field(min_length=1, max_length=128)]
    kpi: Name
    value: float

    @field_validator("kpi")
    @classmethod
    def _known_kpi(cls, value: str, info: ValidationInfo) -> str:
        return _one_of("kpi", value, taxonomy_of(info).kpi_names)

    @model_validator(mode="after")
    def _in_physical_range(self, info: ValidationInfo) -> KpiSample:
        """Out-of-range readings are instrument faults; averaging them in hides real trends."""
        low, high = _range(taxonomy_of(info), self.kpi)
        if not low <= self.value <= high:
            raise ValueError(f"value {self.value} outside {self.kpi} range [{low}, {high}]")
        return self


def _range(taxonomy: Taxonomy, kpi: str) -> tuple[float, float]:
    info = taxonomy.kpi(kpi)
    return (-math.inf, math.inf) if info is None else (info.low, info.high)


MAX_READINGS = 1440  # per KPI and report: a day of minutes


class KpiReport(_Event):
    """Many readings of one site in one record, as OSS performance exports deliver them: one
    record per site and reporting period, one list of evenly spaced readings per KPI.

    Reading ``i`` of a KPI was taken at ``period_start + i * interval_s``. Collectors that
    send one record per reading cost the stream one Kafka record (and one framework
    round trip) per number; a report carries an hour of a site in one.
    """

    type: Literal["kpi_report"] = "kpi_report"
    period_start: EpochMs
    interval_s: Annotated[int, Field(ge=1, le=3600)]
    region: Region
    site: Annotated[str, Field(min_length=1, max_length=128)]
    kpis: Annotated[
        dict[Name, Annotated[list[float], Field(min_length=1, max_length=MAX_READINGS)]],
        Field(min_length=1),
    ]

    @field_validator("kpis")
    @classmethod
    def _known_kpis(cls, value: dict[str, list[float]], info: ValidationInfo) -> dict:
        known = taxonomy_of(info).kpi_names
        for kpi in value:
            if kpi not in known:
                raise PydanticCustomError(
                    "unknown_kpi",
                    f"{kpi!r} is no known kpi; known: {', '.join(known)}",
                    {"kpi": kpi},
                )
        return value

    @model_validator(mode="after")
    def _in_physical_range(self, info: ValidationInfo) -> KpiReport:
        taxonomy = taxonomy_of(info)
        for kpi, values in self.kpis.items():
            low, high = _range(taxonomy, kpi)
            if not (low <= min(values) and max(values) <= high):
                bad = next(i for i, v in enumerate(values) if not low <= v <= high)
                raise ValueError(
                    f"kpis.{kpi}.{bad}: value {values[bad]} outside {kpi} range [{low}, {high}]"
                )
        return self

    @property
    def readings(self) -> int:
        return readings_of(self.kpis)

    @property
    def event_time(self) -> int:
        return last_reading_time(self.period_start, self.interval_s, self.kpis)


def readings_of(kpis: dict[str, list[float]]) -> int:
    """The readings a report carries."""
    return sum(map(len, kpis.values()))


def last_reading_time(period_start: int, interval_s: int, kpis: dict[str, list[float]]) -> int:
    """A report's last reading time: how far the report moves its region's KPI input."""
    longest = max(map(len, kpis.values()))
    return period_start + (longest - 1) * interval_s * 1000


class RegionInfo(_Event):
    """Reference data: a region and how many subscribers it serves (for rates)."""

    type: Literal["region"] = "region"
    region: Region
    subscribers: Annotated[int, Field(gt=0)]
    name: str | None = None

    @property
    def readings(self) -> int:
        return 0  # reference data, not a measurement


Event = ComplaintEvent | KpiSample | KpiReport | RegionInfo
EVENT_TYPES: dict[
    str, type[ComplaintEvent] | type[KpiSample] | type[KpiReport] | type[RegionInfo]
] = {
    "complaint": ComplaintEvent,
    "kpi": KpiSample,
    "kpi_report": KpiReport,
    "region": RegionInfo,
}
# what each topic's kind admits: the KPI topic carries single samples and reports
KIND_ADMITS: dict[str, tuple[str, ...]] = {
    "complaint": ("complaint",),
    "kpi": ("kpi", "kpi_report"),
    "region": ("region",),
}
