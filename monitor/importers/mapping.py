"""Which column of an export holds what: given as flags or a small YAML file.

Three shapes of export are common, one ``kind`` each:

* ``complaints``: a CRM's complaint list, one row per complaint (time, region, category,
  channel, an id, maybe the text);
* ``kpis``: an OSS performance export, one row per site and reading, either long (a KPI
  column and a value column) or wide (one column per KPI, ``kpi_columns``);
* ``values``: values already aggregated by someone else: time, region, metric (or a
  complaint category) and value.

``recode`` translates an operator's labels into Yujing's (``{"category": {"宽带卡顿":
"broadband_lag"}}``), so an export is imported as it is, never edited by hand; and so
does ``constants``, a value for every row of a field the export has no column of (a file
per region, or per series: ``{"region": "north-01", "metric": "complaints.total"}``).
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
from monitor.config.checks import said

Column = Annotated[str, Field(min_length=1, max_length=200)]


class Kind(StrEnum):
    COMPLAINTS = "complaints"
    KPIS = "kpis"
    VALUES = "values"


# fields a mapping may give one value for every row of (``constants``)
CONSTANT_FIELDS = frozenset({"region", "site", "kpi", "metric", "category", "channel"})


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
    # field -> its value in every row, for a field the export has no column of
    constants: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=dict
    )

    @model_validator(mode="before")
    @classmethod
    def _constant_columns(cls, data: object) -> object:
        """A field given as a constant reads the column named after the field, which the
        reader fills in every row (the export need not have it)."""
        if isinstance(data, dict) and isinstance(data.get("constants"), dict):
            for name in data["constants"]:
                if name in CONSTANT_FIELDS and data.get(name) is None:
                    data = {**data, name: name}
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_of(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> ColumnMap:
        unknown = set(self.constants) - CONSTANT_FIELDS
        if unknown:
            raise ValueError(
                f"constants: no field {', '.join(sorted(unknown))} "
                f"(one of {', '.join(sorted(CONSTANT_FIELDS))})"
            )
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
        """Every column this mapping reads from the file: each must be in its header (a
        constant's is not)."""
        named = [
            self.time, self.region, self.id, self.category, self.channel, self.text,
            self.site, self.kpi, self.value, self.metric, *self.kpi_columns.values(),
        ]  # fmt: skip
        given = self.given()
        return [c for c in named if c is not None and c not in given]

    def given(self) -> dict[str, str]:
        """Column -> the constant every row holds there."""
        return {getattr(self, name): value for name, value in self.constants.items()}

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
    for name, value in overrides.items():
        if value is None:
            continue
        held = data.get(name)
        # constants given as flags join the file's (recode's maps too), not replace them
        merged = isinstance(held, dict) and isinstance(value, dict)
        data[name] = {**held, **value} if merged else value  # type: ignore[dict-item]
    try:
        return ColumnMap.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MappingError(f"{where + ': ' if where else ''}{said(first)}") from exc
