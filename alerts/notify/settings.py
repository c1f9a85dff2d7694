"""Who hears about what: notification channels, routes by severity/department/event, retry.

Validated with the rest of the config; secrets never sit in the YAML, only the names of
the environment variables that hold them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.findings import Severity
from alerts.taxonomy import Department, kpi_counts_arrivals, kpi_of

NOTIFIABLE_EVENTS = (
    "opened",
    "escalated",
    "recovered",
    "acknowledged",
    "resolved",
    "closed",
    "reopened",
    "refired",
    "commented",
    "started",
)
DEFAULT_EVENTS = (
    "opened",
    "refired",
    "escalated",
    "recovered",
    "resolved",
    "closed",
    "reopened",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_source(name: str, *given: object) -> None:
    if sum(value is not None for value in given) > 1:
        raise ValueError(f"{name}: give one of the environment variable or the file")


class WebhookChannel(_Model):
    """Generic JSON webhook, signed with HMAC-SHA256 over "timestamp.body".

    Fails closed: a webhook is signed with the secret from ``secret_env`` or
    ``secret_file`` (which must then hold a non-empty secret when the channel is used), or
    says ``unsigned: true`` for a receiver that cannot check signatures.
    """

    type: Literal["webhook"]
    url: str
    secret_env: str | None = None
    secret_file: str | None = None
    unsigned: bool = False
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _signed_or_explicitly_not(self) -> WebhookChannel:
        _one_source("secret", self.secret_env, self.secret_file)
        has_secret = self.secret_env is not None or self.secret_file is not None
        if has_secret and self.unsigned:
            raise ValueError("a secret and unsigned: true contradict each other")
        if not has_secret and not self.unsigned:
            raise ValueError(
                "a webhook is signed: name its secret (secret_env or secret_file), or say "
                "unsigned: true for a receiver that cannot check signatures"
            )
        return self


class SlackChannel(_Model):
    """A Slack incoming webhook (or anything that speaks its JSON).

    The webhook URL is a secret (whoever has it can post): from ``url_env`` or
    ``url_file``; a ``url`` in the YAML is accepted for local receivers.
    """

    type: Literal["slack"]
    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one_url(self) -> SlackChannel:
        if sum(v is not None for v in (self.url, self.url_env, self.url_file)) != 1:
            raise ValueError("give exactly one of url, url_env or url_file")
        return self


class EmailChannel(_Model):
    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ca_file: str | None = None  # trust anchor for a private relay's certificate
    username_env: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _login_only_over_tls(self) -> EmailChannel:
        _one_source("password", self.password_env, self.password_file)
        logs_in = self.username_env is not None or self.password_env is not None
        if (logs_in or self.password_file is not None) and not self.starttls:
            raise ValueError("a login needs starttls: true (a password is never sent in clear)")
        return self


class AlertmanagerChannel(_Model):
    """Alertmanager's v2 API, so its routing, silences and receivers keep working."""

    type: Literal["alertmanager"]
    url: str
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


Channel = Annotated[
    WebhookChannel | SlackChannel | EmailChannel | AlertmanagerChannel, Field(discriminator="type")
]


class Route(_Model):
    """Notifications matching every given field go to ``channels``; an empty field matches all."""

    channels: list[str] = Field(min_length=1)
    severity: list[Severity] = Field(default_factory=list)
    department: list[Department] = Field(default_factory=list)
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENTS))

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(NOTIFIABLE_EVENTS))
        if unknown:
            raise ValueError(f"unknown event(s) {unknown}; known: {', '.join(NOTIFIABLE_EVENTS)}")
        return value

    def matches(self, event: str, severity: str, department: str) -> bool:
        return (
            event in self.events
            and (not self.severity or severity in self.severity)
            and (not self.department or department in self.department)
        )


class Retry(_Model):
    """Exponential backoff: base * 2**(attempt-1), capped; then the delivery is dead."""

    max_attempts: int = Field(default=15, ge=1, le=100)
    base_seconds: float = Field(default=2.0, gt=0, le=3600)
    max_backoff_seconds: float = Field(default=900.0, gt=0, le=86400)
    lease_seconds: float = Field(default=60.0, gt=0, le=3600)

    def backoff_ms(self, attempts: int) -> int:
        return int(
            min(self.base_seconds * 2 ** max(attempts - 1, 0), self.max_backoff_seconds) * 1000
        )


class Links(_Model):
    """Where people click from a notification: the ticket's page (served by ``yujing
    api``) and Grafana."""

    tickets: str = "http://localhost:8088/tickets"
    grafana: str = "http://localhost:3000"
    region_dashboard_uid: str = "yujing-region"


class NotificationSettings(_Model):
    channels: dict[str, Channel] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    retry: Retry = Retry()
    links: Links = Links()
    # the operator's zone for the times in messages: the config's top-level ``timezone``
    # (set from it; not a setting of its own)
    timezone: str = Field(default="+00:00", max_length=64)
    # detector spec id -> its runbook page: each spec's ``runbook`` (not set here)
    runbooks: dict[str, str] = Field(default_factory=dict)
    # KPI name -> its unit: the taxonomy's (not set here)
    units: dict[str, str] = Field(default_factory=dict)

    def unit_of(self, metric: str) -> str:
        """A KPI metric's unit ("%" for kpi.packet_loss.mean); counts and rates have none
        (nor a KPI's count of readings)."""
        kpi = kpi_of(metric)
        return "" if kpi is None or kpi_counts_arrivals(metric) else self.units.get(kpi, "")

    # routes naming undefined channels are reported by the config's semantic checks,
    # with the line of the channel name

    def channels_for(self, event: str, severity: str, department: str) -> list[str]:
        """Every channel of every matching route, once each, in a stable order."""
        out: dict[str, None] = {}
        for route in self.routes:
            if route.matches(event, severity, department):
                out.update(dict.fromkeys(route.channels))
        return list(out)
