"""Worker settings from the environment (12-factor), with CLI options layered on top."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from monitor.runners.faust.security import KafkaSecurity
from monitor.runners.faust.topics import TopicNames, bootstrap_from_env

# How long the broker may hold a fetch that finds no new record. aiokafka does not fetch
# a partition whose records are still being processed; 0.1 s later it fetches the other
# partitions it owns (the intake's idle raw topics; the aggregation's assignor and
# changelog partitions, which stay empty), and the busy one is fetched again only when
# that request comes back: with aiokafka's 0.5 s and Faust's fixed 1.5 s, the intake and
# the aggregation sat idle up to that long after a long batch (docs/benchmarks.md).
FETCH_WAIT_MS = 50


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = "yujing"
    partitions: int = 4
    database_url: str = "sqlite:///var/yujing.db"
    config_path: Path | None = None
    app_id: str = "yujing"
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    data_dir: Path = Path("var/faust")
    batch_size: int = 1000
    batch_seconds: float = 0.2
    commit_interval: float = 1.0
    session_timeout: float = 30.0  # how long a dead worker holds its partitions
    log_level: str = "INFO"
    api_port: int | None = None  # serve the ticket API next to the worker when set
    api_host: str = "127.0.0.1"
    security: KafkaSecurity = field(default_factory=KafkaSecurity)  # plaintext, TLS, SASL
    # the intake on a process of its own (runners/faust/intake_process.py): worth it with
    # a second core; without one, a process that only takes turns with the worker
    intake_process: bool = field(default_factory=lambda: (os.cpu_count() or 1) > 1)

    @property
    def topics(self) -> TopicNames:
        return TopicNames(self.topic_prefix)

    @classmethod
    def from_env(cls, **overrides: object) -> WorkerSettings:
        env = os.environ
        base = cls(
            bootstrap=bootstrap_from_env(cls.bootstrap),
            topic_prefix=env.get("YUJING_TOPIC_PREFIX", cls.topic_prefix),
            partitions=_number(env, "YUJING_PARTITIONS", cls.partitions, int),
            database_url=env.get("YUJING_DATABASE_URL", cls.database_url),
            config_path=Path(env["YUJING_CONFIG"]) if env.get("YUJING_CONFIG") else None,
            app_id=env.get("YUJING_APP_ID", cls.app_id),
            web_port=_number(env, "YUJING_WEB_PORT", cls.web_port, int),
            web_host=env.get("YUJING_WEB_HOST", cls.web_host),
            data_dir=Path(env.get("YUJING_DATA_DIR", str(cls.data_dir))),
            log_level=env.get("YUJING_LOG_LEVEL", cls.log_level),
            session_timeout=_number(env, "YUJING_SESSION_TIMEOUT", cls.session_timeout, float),
            api_port=(
                _number(env, "YUJING_API_PORT", None, int) if env.get("YUJING_API_PORT") else None
            ),
            api_host=env.get("YUJING_API_HOST", cls.api_host),
            batch_size=_number(env, "YUJING_BATCH_SIZE", cls.batch_size, int),
            batch_seconds=_number(env, "YUJING_BATCH_SECONDS", cls.batch_seconds, float),
            commit_interval=_number(env, "YUJING_COMMIT_INTERVAL", cls.commit_interval, float),
            security=KafkaSecurity.from_env(),
            **_intake_process(env.get("YUJING_INTAKE_PROCESS")),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(base, **given)  # type: ignore[arg-type]


def _intake_process(value: str | None) -> dict[str, bool]:
    """YUJING_INTAKE_PROCESS: 1 or 0; unset, the default (on with more than one core)."""
    if value is None or not value.strip():
        return {}
    if value.strip() not in ("0", "1"):
        raise SettingsError(f"YUJING_INTAKE_PROCESS must be 0 or 1, got {value!r}")
    return {"intake_process": value.strip() == "1"}


class SettingsError(ValueError):
    """A worker setting in the environment that cannot be read; the message names it."""


T = TypeVar("T")


def _number(env: Mapping[str, str], name: str, default: T, kind: Callable[[str], T]) -> T:
    """A number from the environment, or ``default`` when ``name`` is not set."""
    value = env.get(name)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name} must be {what}, got {value!r}") from None
