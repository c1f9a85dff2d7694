"""Hot reload of the monitor config: on file change or SIGHUP, validate, then swap.

An invalid new config never replaces a running one: it is rejected with every problem
logged (file, line, field) and counted, and the old config stays in force.
"""

from __future__ import annotations

import hashlib
import logging
import signal
from pathlib import Path

from alerts.notify.channels import missing_secrets
from monitor.config.checks import ConfigError, Problem
from monitor.config.load import load_config
from monitor.config.model import NO_DETECTORS, MonitorConfig

log = logging.getLogger("yujing.reload")


def config_version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def usable(config: MonitorConfig, source: str) -> None:
    """ConfigError when a valid config cannot run here: a channel's secret is missing (a
    signed webhook would otherwise go out unsigned, a login without its password)."""
    problems = missing_secrets(config.notifications)
    if problems:
        raise ConfigError(source, [Problem(None, "notifications", p) for p in problems])


class ConfigWatcher:
    """Hot reload: a changed (or SIGHUP-requested) file is validated before it replaces the
    running config; a bad one is counted and logged, and the old config keeps running."""

    def __init__(self, path: Path, current: MonitorConfig) -> None:
        self.path = path
        self.current = current
        self._stamp = self._read_stamp()
        self.version = config_version(self._bytes())
        self.reloads = 0
        self.failures = 0
        self.last_error: str | None = None
        self._forced = False

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError:
            return b""

    def install_sighup(self) -> None:
        """SIGHUP asks for a reload even when the file's time stamp did not move."""
        signal.signal(signal.SIGHUP, lambda *_: self.request())

    def request(self) -> None:
        self._forced = True

    def check(self) -> MonitorConfig | None:
        """A new valid config if the file changed (or SIGHUP came), else None."""
        stamp = self._read_stamp()
        if stamp == self._stamp and not self._forced:
            return None
        self._stamp, self._forced = stamp, False
        version = config_version(self._bytes())
        if version == self.version:
            return None
        try:
            config = load_config(self.path)
            usable(config, str(self.path))
        except ConfigError as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.error(
                "config rejected, keeping the running one",
                extra={
                    "fields": {
                        "file": str(self.path),
                        "running_version": self.version,
                        "problems": exc.messages,
                    }
                },
            )
            return None
        self.current, self.version = config, version
        self.reloads += 1
        self.last_error = None
        log.info("config reloaded", extra={"fields": {"file": str(self.path), "version": version}})
        if not config.detectors:
            log.warning(NO_DETECTORS, extra={"fields": {"file": str(self.path)}})
        return config
