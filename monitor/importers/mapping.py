"""Which column of an export holds what: given as flags or a small YAML file.

Three shapes of export are common, one ``kind`` each:

* ``complaints``: a CRM's complaint list, one row per complaint (time, region, category,
  channel, an id, maybe the text);
* ``kpis``: an OSS performance export, one row per site and reading, either long (a KPI
  column and a value column) or wide (one column per KPI, ``kpi_columns``);
* ``values``: values already aggregated by someone else: time, region, metric (or a
  complaint category) and value.

``recode`` translates an operator's labels into Yujing's (``{"category": {"宽带卡顿":
"broadband_lag"}}``), so an export is imported as it is, never edited by hand.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.zones import zone_of

Column = Annotated[str, Field(min_length=1, max_length=200)]


class Kind(StrEnum):
    COMPLAINTS = "complaints"
    KPIS = "kpis"
    VALUES = "values"


class ColumnMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    time: Column = "time"
    region: Column = "region"
    # complaints
    id: Column | None = None  # none: the file and line make the id
    category: Column | None = None
    channel: Column | None = None
    default_channel: str = "hotline"  # when the export has no channel column
    text: Column | None = None
    # kpis, long or wide
    site: Column | None = None  # none: the region is the site
    kpi: Column | None = None
    value: Column | None = None
    kpi_columns: dict[str, Column] = Field(default_factory=dict)  # kpi -> column
    # values
    metric: Column | None = None
    # reading the file
    timezone: str | None = None  # the export's zone, for times without an offset
    time_format: str | None = None  # strptime, when the times are not ISO 8601
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: str = "utf-8-sig"
    recode: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_of(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> ColumnMap:
        if self.kind is Kind.COMPLAINTS and self.category is None:
            raise ValueError("complaints need a category column (--category)")
        if (
            self.kind is Kind.KPIS
            and not self.kpi_columns
            and (self.kpi is None or self.value is None)
        ):
            raise ValueError("kpis need --kpi and --value columns, or kpi_columns (wide exports)")
        if self.kind is Kind.VALUES:
            if (self.metric is None) == (self.category is None):
                raise ValueError("values need one of a metric column or a category column")
            if self.value is None:
                raise ValueError("values need a value column (--value)")
        unknown = set(self.recode) - {"category", "channel", "kpi", "metric", "region"}
        if unknown:
            raise ValueError(f"recode: no field {', '.join(sorted(unknown))}")
        return self

    def columns(self) -> list[str]:
        """Every column this mapping reads: each must be in the file's header."""
        named = [
            self.time, self.region, self.id, self.category, self.channel, self.text,
            self.site, self.kpi, self.value, self.metric, *self.kpi_columns.values(),
        ]  # fmt: skip
        return [c for c in named if c is not None]

    def recoded(self, field: str, value: str) -> str:
        return self.recode.get(field, {}).get(value, value)


class MappingError(ValueError):
    """A mapping that cannot be used: one line saying why."""


def load_mapping(path: Path | None, overrides: dict[str, object]) -> ColumnMap:
    """The mapping file (if any) with the flags given on top."""
    data: dict[str, object] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise MappingError(f"{path}: {' '.join(str(exc).split())}") from exc
        if not isinstance(loaded, dict):
            raise MappingError(f"{path}: expected a mapping of field: column")
        data.update(loaded)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return ColumnMap.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MappingError(f"{where + ': ' if where else ''}{first['msg']}") from exc
