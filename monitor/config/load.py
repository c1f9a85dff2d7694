"""Loading a config: YAML text -> schema -> semantic checks -> a validated MonitorConfig."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from monitor.config.checks import (
    ConfigError,
    Problem,
    field_path,
    line_of,
    said,
    semantic_problems,
)
from monitor.config.model import MonitorConfig, TaxonomySettings
from monitor.windows.aggregation import metric_names

MAX_CONFIG_BYTES = 1 << 20  # a config with thousands of specs is ~100 KB


def parse_config(text: str, source: str = "<config>") -> MonitorConfig:
    """Validate a YAML config; every problem comes with its line and field path.

    Raises only ConfigError, whatever the text is (too large, nested past what the YAML
    parser recurses through, anything else), so a watcher keeps its running config.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            source,
            [
                Problem(
                    None, "<file>", f"{len(text):,} characters; the limit is {MAX_CONFIG_BYTES:,}"
                )
            ],
        )
    try:
        return _parse(text, source)
    except ConfigError:
        raise
    except RecursionError as exc:
        raise ConfigError(source, [Problem(None, "<yaml>", "nested too deeply")]) from exc
    except Exception as exc:
        problem = Problem(None, "<config>", f"cannot be read: {type(exc).__name__}: {exc}")
        raise ConfigError(source, [problem]) from exc


def _parse(text: str, source: str) -> MonitorConfig:
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            source, [Problem(line, "<yaml>", f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(source, [Problem(1, "<root>", "expected a mapping of settings")])
    try:
        config = MonitorConfig.model_validate(data, context={"metrics": _declared_metrics(data)})
    except ValidationError as exc:
        problems = [
            Problem(line_of(root, tuple(e["loc"])), field_path(tuple(e["loc"])), said(e))
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(source, problems) from exc
    semantic = semantic_problems(config)
    if semantic:
        raise ConfigError(
            source, [Problem(line_of(root, loc), field_path(loc), msg) for loc, msg in semantic]
        )
    return config


def _declared_metrics(data: dict[str, object]) -> frozenset[str] | None:
    """The metrics of the file's own taxonomy, so every metric name is checked in the
    schema pass (with all other problems); None if the taxonomy itself is invalid (it is
    reported on its own)."""
    try:
        settings = TaxonomySettings.model_validate(data.get("taxonomy") or {})
    except ValidationError:
        return None
    return frozenset(metric_names(settings.build()))


DEFAULT_NAME = "default_config.yaml"


def default_config_text() -> str:
    """The packaged default, comments and all: what a tuned config starts as a copy of
    (a file's ``detectors:`` list is the whole list)."""
    return resources.files("monitor.config").joinpath(DEFAULT_NAME).read_text("utf-8")


def load_config(path: Path | None = None) -> MonitorConfig:
    """Load a YAML config, or the packaged default when no path is given."""
    if path is None:
        return parse_config(default_config_text(), DEFAULT_NAME)
    return parse_config(read_config_text(path), str(path))


def read_config_text(path: Path) -> str:
    """The file as text, or ConfigError: unreadable, too large, or not UTF-8 (with the
    line of the first bad byte)."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            limit = f"{size:,} bytes; the limit is {MAX_CONFIG_BYTES:,}"
            raise ConfigError(source, [Problem(None, "<file>", limit)])
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, [Problem(None, "<file>", str(exc))]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = Problem(line, "<file>", f"not UTF-8: byte {data[exc.start]:#04x} at {exc.start}")
        raise ConfigError(source, [problem]) from exc
