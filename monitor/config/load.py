"""Loading a config: YAML text -> schema -> semantic checks -> a validated MonitorConfig."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from monitor.config.checks import ConfigError, Problem, field_path, line_of, semantic_problems
from monitor.config.model import MonitorConfig


def parse_config(text: str, source: str = "<config>") -> MonitorConfig:
    """Validate a YAML config; every problem comes with its line and field path."""
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
        config = MonitorConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(line_of(root, tuple(e["loc"])), field_path(tuple(e["loc"])), e["msg"])
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(source, problems) from exc
    semantic = semantic_problems(config)
    if semantic:
        raise ConfigError(
            source, [Problem(line_of(root, loc), field_path(loc), msg) for loc, msg in semantic]
        )
    return config


def load_config(path: Path | None = None) -> MonitorConfig:
    """Load a YAML config, or the packaged default when no path is given."""
    if path is None:
        text = resources.files("monitor.config").joinpath("default_config.yaml").read_text("utf-8")
        return parse_config(text, "default_config.yaml")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [Problem(None, "<file>", str(exc))]) from exc
    return parse_config(text, str(path))
