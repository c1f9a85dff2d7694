"""Structured logging: one line per record, ``key=value`` pairs after the message.

Call sites pass ``extra={"fields": {...}}``; the formatter renders them so a log agent
(or grep) can pick fields without parsing prose.
"""

from __future__ import annotations

import logging
import logging.config
import sys

import orjson


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = (
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname} "
            f"logger={record.name} msg={orjson.dumps(record.getMessage()).decode()}"
        )
        fields = getattr(record, "fields", None)
        if fields:
            parts = " ".join(
                f"{k}={orjson.dumps(v, default=str).decode()}" for k, v in fields.items()
            )
            base = f"{base} {parts}"
        if record.exc_info:
            base = f"{base}\n{self.formatException(record.exc_info)}"
        return base


# libraries that narrate their own workings at INFO (client chatter, migrations, the
# framework's start and stop): the monitor's lines would drown in them
LIBRARIES = ("kafka", "aiokafka", "alembic", "faust", "mode", "httpx", "uvicorn", "urllib3")
# ... except a worker's table recovery after a rebalance: a few lines each time (where each
# changelog starts and ends, "Recovery complete", "Worker ready"), and without them a
# worker that takes no events for minutes says nothing of why
NARRATED = ("faust.tables.recovery",)


class BenignNoise(logging.Filter):
    """Drops the errors a Kafka client logs for conditions it retries by itself (the group
    coordinator not elected yet at startup): they read as faults at 3 a.m. and are none."""

    BENIGN = ("GroupCoordinatorNotAvailableError", "NodeNotReadyError")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(benign in message for benign in self.BENIGN)


def logging_config(level: str = "INFO") -> dict[str, object]:
    """One format for every logger of the process (the monitor's, Faust's, the clients'),
    libraries at WARNING: a ``logging.config.dictConfig`` dict, also given to Faust."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"kv": {"()": KeyValueFormatter}},
        "filters": {"benign": {"()": BenignNoise}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "kv",
                "filters": ["benign"],
                "stream": sys.stderr,
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"level": "WARNING"} for name in LIBRARIES}
        | {name: {"level": "INFO"} for name in NARRATED},
    }


def setup_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))
