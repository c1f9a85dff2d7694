"""Senders, one per channel type: turn a frozen payload into a request, or a failure value.

Each send is bounded by the channel's timeout, so a dead endpoint costs one timeout per
attempt and never holds up the deliveries of other channels.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from alerts.notify import messages
from alerts.notify.settings import (
    AlertmanagerChannel,
    Channel,
    EmailChannel,
    NotificationSettings,
    SlackChannel,
    WebhookChannel,
)
from detectors.timeaxis import to_iso

if TYPE_CHECKING:  # httpx is imported by what sends (a command that reads tickets does not)
    import httpx

SIGNATURE_HEADER = "X-Yujing-Signature"
TIMESTAMP_HEADER = "X-Yujing-Timestamp"
KEY_HEADER = "Idempotency-Key"


class DeliveryFailed(Exception):
    """A send that did not land: why, and whether trying again can help."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp.body": the timestamp is signed, so a replay is visible."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now_s: float,
    tolerance_s: float = 300,
) -> bool:
    """What a receiver does: a fresh timestamp and a matching signature."""
    try:
        fresh = abs(now_s - float(timestamp)) <= tolerance_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: str
    payload: dict[str, Any]


Sender = Callable[[Outgoing], None]


def _post(
    client: httpx.Client, url: str, content: bytes, headers: dict[str, str], timeout: float
) -> httpx.Response:
    import httpx  # loaded already: the client is one

    try:
        response = client.post(url, content=content, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500 or response.status_code in (408, 425, 429):
        raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}")
    if response.status_code >= 400:
        raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}", retryable=False)
    return response


class SecretMissing(ValueError):
    """A channel names a secret that is not there (unset, empty or unreadable): the channel
    cannot be used, and a config that needs it is refused rather than sent in clear."""


def secret(what: str, env: str | None, file: str | None) -> str | None:
    """The secret from the environment variable or the file named; None when neither is
    named; SecretMissing when one is named but yields nothing usable."""
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise SecretMissing(
                f"{what}: environment variable {env} is {'empty' if value == '' else 'not set'}"
            )
        return value
    if file is not None:
        try:
            value = Path(file).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretMissing(f"{what}: cannot read {file}: {exc}") from exc
        if not value:
            raise SecretMissing(f"{what}: {file} is empty")
        return value
    return None


def missing_secrets(settings: NotificationSettings) -> list[str]:
    """Every channel's secret that cannot be had here, as messages (empty: all usable)."""
    problems = []
    for name, cfg in settings.channels.items():
        try:
            _secrets_of(name, cfg)
        except SecretMissing as exc:
            problems.append(str(exc))
    return problems


def _secrets_of(name: str, cfg: Channel) -> dict[str, str | None]:
    if isinstance(cfg, WebhookChannel):
        return {"secret": secret(f"channel {name}", cfg.secret_env, cfg.secret_file)}
    if isinstance(cfg, SlackChannel):
        return {"url": cfg.url or secret(f"channel {name}", cfg.url_env, cfg.url_file)}
    if isinstance(cfg, EmailChannel):
        user = secret(f"channel {name} user", cfg.username_env, None)
        password = secret(f"channel {name} password", cfg.password_env, cfg.password_file)
        return {"user": user, "password": password}
    return {}


def webhook_sender(
    cfg: WebhookChannel,
    client: httpx.Client,
    clock: Callable[[], float] = time.time,
    name: str = "webhook",
) -> Sender:
    secret = _secrets_of(name, cfg)["secret"]

    def send(out: Outgoing) -> None:
        body = orjson.dumps({**out.payload, "delivery_key": out.key})
        headers = {"Content-Type": "application/json", KEY_HEADER: out.key}
        if secret is not None:
            stamp = str(int(clock()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = sign(secret.encode(), stamp, body)
        _post(client, cfg.url, body, headers, cfg.timeout_seconds)

    return send


def slack_sender(cfg: SlackChannel, client: httpx.Client, name: str = "slack") -> Sender:
    url = str(_secrets_of(name, cfg)["url"])

    def send(out: Outgoing) -> None:
        _post(
            client,
            url,
            orjson.dumps(messages.slack(out.payload)),
            {"Content-Type": "application/json"},
            cfg.timeout_seconds,
        )

    return send


def alertmanager_sender(
    cfg: AlertmanagerChannel, client: httpx.Client, clock: Callable[[], float] = time.time
) -> Sender:
    url = f"{cfg.url.rstrip('/')}/api/v2/alerts"

    def send(out: Outgoing) -> None:
        alert = messages.alertmanager_alert(out.payload, to_iso(int(clock() * 1000)))
        _post(
            client,
            url,
            orjson.dumps([alert]),
            {"Content-Type": "application/json"},
            cfg.timeout_seconds,
        )

    return send


def email_sender(cfg: EmailChannel, name: str = "email") -> Sender:
    login = _secrets_of(name, cfg)
    user, password = login["user"], login["password"]

    def send(out: Outgoing) -> None:
        msg = EmailMessage()
        msg["Subject"] = messages.subject(out.payload)
        msg["From"] = cfg.sender
        msg["To"] = ", ".join(cfg.to)
        msg["Date"] = formatdate(localtime=False)
        # one Message-ID per delivery key: a resend after a lost reply is the same mail
        msg["Message-ID"] = make_msgid(
            idstring=hashlib.sha256(out.key.encode()).hexdigest()[:24], domain="yujing"
        )
        msg[KEY_HEADER] = out.key
        msg.set_content(messages.text(out.payload))
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=cfg.ca_file))
                if user and password:  # only ever over TLS (the config insists)
                    smtp.login(user, password)
                smtp.send_message(msg)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retryable=exc.smtp_code < 500
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    return send


def build_sender(cfg: Channel, client: httpx.Client, name: str = "") -> Sender:
    """The sender of a channel; SecretMissing when its secret cannot be had."""
    if isinstance(cfg, WebhookChannel):
        return webhook_sender(cfg, client, name=name or "webhook")
    if isinstance(cfg, SlackChannel):
        return slack_sender(cfg, client, name=name or "slack")
    if isinstance(cfg, AlertmanagerChannel):
        return alertmanager_sender(cfg, client)
    return email_sender(cfg, name=name or "email")
