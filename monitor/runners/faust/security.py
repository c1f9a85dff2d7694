"""How the monitor's Kafka clients connect: plaintext, or TLS with SASL (SCRAM), from the
environment, the same for every client (admin, producer, consumers, the Faust app).

    KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default), SSL or SASL_SSL
    KAFKA_SASL_MECHANISM      SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN
    KAFKA_SASL_USERNAME       the user
    KAFKA_SASL_PASSWORD       its password, or KAFKA_SASL_PASSWORD_FILE naming a file
    KAFKA_SSL_CAFILE          the CA that signed the brokers' certificates (PEM)
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


class KafkaSecurityError(ValueError):
    """The Kafka connection settings are incomplete or contradict each other."""


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    cafile: str | None = None

    @classmethod
    def from_env(cls) -> KafkaSecurity:
        env = os.environ
        protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            raise KafkaSecurityError(
                f"KAFKA_SECURITY_PROTOCOL={protocol}: use one of {', '.join(PROTOCOLS)}"
            )
        mechanism = env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper()
        if mechanism not in MECHANISMS:
            raise KafkaSecurityError(
                f"KAFKA_SASL_MECHANISM={mechanism}: use one of {', '.join(MECHANISMS)}"
            )
        password = env.get("KAFKA_SASL_PASSWORD")
        if password is None and env.get("KAFKA_SASL_PASSWORD_FILE"):
            path = Path(env["KAFKA_SASL_PASSWORD_FILE"])
            try:
                password = path.read_text("utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise KafkaSecurityError(f"KAFKA_SASL_PASSWORD_FILE: {exc}") from exc
        security = cls(
            protocol,
            mechanism,
            env.get("KAFKA_SASL_USERNAME"),
            password,
            env.get("KAFKA_SSL_CAFILE"),
        )
        if protocol == "SASL_SSL" and not (security.username and security.password):
            raise KafkaSecurityError(
                "SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or _FILE)"
            )
        return security

    @property
    def sasl(self) -> bool:
        return self.protocol == "SASL_SSL"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.protocol == "PLAINTEXT":
            return None
        return ssl.create_default_context(cafile=self.cafile)

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's clients (admin, producer, consumer)."""
        if self.protocol == "PLAINTEXT":
            return {}
        return {"security_protocol": self.protocol, "ssl_cafile": self.cafile} | self._sasl()

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's clients (the worker's intake)."""
        if self.protocol == "PLAINTEXT":
            return {}
        return {
            "security_protocol": self.protocol,
            "ssl_context": self.ssl_context(),
        } | self._sasl()

    def _sasl(self) -> dict[str, Any]:
        """The SASL options both clients name alike (none without SASL)."""
        if not self.sasl:
            return {}
        return {
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }


class _Heard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def connection_problem(
    bootstrap: str, security: KafkaSecurity, timeout_s: float = 10
) -> str | None:
    """One line saying why the brokers cannot be used with these settings, or None.

    kafka-python retries a refused login until its timeout and then reports only that it
    could not bootstrap; what the broker said is in its log lines, read here."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    heard = _Heard()
    logger = logging.getLogger("kafka")
    logger.addHandler(heard)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="yujing-check",
            request_timeout_ms=int(timeout_s * 1000),
            **security.kafka_python(),
        )
        admin.close()
        return None
    except KafkaError as exc:
        said = " ".join(heard.messages)
        if "SaslAuthenticationFailed" in said or "Authentication failed" in said:
            return (
                f"Kafka at {bootstrap} refused the credentials of {security.username!r} "
                f"({security.mechanism}): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if "SSL" in said or "certificate" in said.lower():
            return f"TLS with Kafka at {bootstrap} failed (KAFKA_SSL_CAFILE?): {heard.messages[-1]}"
        return f"cannot reach Kafka at {bootstrap} ({security.protocol}): {exc}"
    finally:
        logger.removeHandler(heard)
