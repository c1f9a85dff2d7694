"""What a schema cannot say, and where a problem is: the YAML line of each field at fault.

Every problem is a value (``Problem``) with its line and field path; ``ConfigError``
carries all of a file's problems at once, so an engineer fixes them in one round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from detectors.registry import REGISTRY
from monitor.config.model import MonitorConfig, did_you_mean

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (line, field path) and why."""

    line: int | None
    path: str
    message: str

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.path}: {self.message}"


class ConfigError(Exception):
    """A config that cannot be used, with the file, the lines and the fields at fault."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))

    @property
    def messages(self) -> list[str]:
        return [p.render(self.source) for p in self.problems]


def field_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The YAML line of the deepest node on ``loc`` that the file has."""
    if root is None:
        return None
    node: yaml.Node = root
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                tags = [v.value for k, v in node.value if k.value == "type"]
                if tags == [part]:  # pydantic's discriminator tag, not a key of the file
                    continue
                break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _vocabulary_problems(config: MonitorConfig) -> list[tuple[Loc, str]]:
    """Every name the config uses is one its taxonomy declares."""
    vocabulary = config.vocabulary
    known = config.known_metrics
    problems: list[tuple[Loc, str]] = []

    def unknown(metric: str) -> str:
        family = metric.split(".")[0]
        if family == "kpi":
            listed = ", ".join(vocabulary.kpi_names)
            why = f"no such KPI in the taxonomy ({listed})"
        else:
            listed = ", ".join((*vocabulary.category_names, "total"))
            why = f"no such category in the taxonomy ({listed})"
        return f"unknown metric {metric!r}: {why}{did_you_mean(metric, known)}"

    for i, spec in enumerate(config.detectors):
        for j, metric in enumerate(spec.metrics):
            if metric not in known:
                problems.append((("detectors", i, "metrics", j), unknown(metric)))
    for i, mute in enumerate(config.mutes):
        for j, metric in enumerate(mute.metrics or ()):
            if metric not in known:
                problems.append((("mutes", i, "metrics", j), unknown(metric)))
    keys = {*vocabulary.category_names, "kpi", "total"}
    for key in config.alerts.routing:
        if key not in keys:
            problems.append(
                (
                    ("alerts", "routing", key),
                    f"unknown routing key {key!r}; use a category of the taxonomy, "
                    "'kpi' or 'total'",
                )
            )
    for name, kpi in config.remote_write.kpis.items():
        if kpi not in vocabulary.kpi_names:
            problems.append(
                (
                    ("remote_write", "kpis", name),
                    f"unknown KPI {kpi!r}; the taxonomy has {', '.join(vocabulary.kpi_names)}",
                )
            )
    return problems


def semantic_problems(config: MonitorConfig) -> list[tuple[Loc, str]]:
    """What a schema cannot say: parameters per detector, overlaps, unknown groups."""
    problems: list[tuple[Loc, str]] = []
    defined = config.notifications.channels
    for i, route in enumerate(config.notifications.routes):
        for j, channel in enumerate(route.channels):
            if channel not in defined:
                problems.append(
                    (
                        ("notifications", "routes", i, "channels", j),
                        f"unknown channel {channel!r}; defined: "
                        f"{', '.join(sorted(defined)) or 'none'}",
                    )
                )
    problems += _vocabulary_problems(config)
    for name, members in config.region_groups.items():
        for k, ref in enumerate(members):
            if ref.startswith("@"):
                problems.append((("region_groups", name, k), "groups cannot nest"))
    for i, spec in enumerate(config.detectors):
        cls = REGISTRY[spec.detector]
        base: dict[str, Any] = spec.params
        for loc_prefix, params, own in [(("detectors", i, "params"), base, None)] + [
            (("detectors", i, "overrides", j, "params"), {**base, **o.params}, o.params)
            for j, o in enumerate(spec.overrides)
        ]:
            try:
                detector = cls(cls.config_model.model_validate(params))
            except ValidationError as exc:
                for e in exc.errors(include_url=False):
                    if own is not None and e["loc"] and e["loc"][0] not in own:
                        continue  # inherited from the spec: reported there once
                    problems.append(((*loc_prefix, *e["loc"]), e["msg"]))
                continue
            for metric in detector.context_metrics():  # the other signals it reads
                if metric in config.known_metrics:
                    continue
                named_by = [
                    k for k, v in (own if own is not None else params).items() if v == metric
                ]
                if own is not None and not named_by:
                    continue  # inherited from the spec: reported there once
                problems.append(((*loc_prefix, *named_by[:1]), f"unknown metric {metric!r}"))
        covered: dict[str, int] = {}
        for j, override in enumerate(spec.overrides):
            for k, ref in enumerate(override.regions):
                if ref.startswith("@") and ref[1:] not in config.region_groups:
                    problems.append(
                        (
                            ("detectors", i, "overrides", j, "regions", k),
                            f"unknown region group {ref[1:]!r}",
                        )
                    )
            for region in sorted(config.expand(override.regions)):
                if region in covered:
                    problems.append(
                        (
                            ("detectors", i, "overrides", j, "regions"),
                            f"overlaps override {covered[region]} on region "
                            f"{region!r}: which parameters apply is ambiguous",
                        )
                    )
                    break
                covered[region] = j
    seen_pairs: dict[tuple[str, str], str] = {}
    for i, spec in enumerate(config.detectors):
        for k, metric in enumerate(spec.metrics):
            pair = (spec.detector, metric)
            if pair in seen_pairs:
                problems.append(
                    (
                        ("detectors", i, "metrics", k),
                        f"{spec.detector} on {metric} is already configured by "
                        f"{seen_pairs[pair]!r} (same fingerprint, two rules)",
                    )
                )
            seen_pairs[pair] = spec.id
    for m, mute in enumerate(config.mutes):
        for k, ref in enumerate(mute.regions):
            if ref.startswith("@") and ref[1:] not in config.region_groups:
                problems.append((("mutes", m, "regions", k), f"unknown region group {ref[1:]!r}"))
    return problems


def said(error: Mapping[str, Any]) -> str:
    """A pydantic error's message without its "Value error, " before our own words (the
    file, the line and the field already say where)."""
    message = str(error["msg"])
    return message.removeprefix("Value error, ") if error["type"] == "value_error" else message
