"""Structured logging: one line per record, ``key=value`` pairs after the message.

Call sites pass ``extra={"fields": {...}}``; the formatter renders them so a log agent
(or grep) can pick fields without parsing prose.
"""

from __future__ import annotations

import logging
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


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
