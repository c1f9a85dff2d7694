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
import socket
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


def _address(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    return host.strip("[]") or "localhost", int(port) if port.isdigit() else 9092


def _handshake(server: str, security: KafkaSecurity, timeout_s: float) -> str | None:
    """Why a TCP connection (and a TLS handshake, when TLS is on) to one broker fails,
    or None: checked directly because kafka-python reports every failure alike."""
    host, port = _address(server)
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        return f"cannot reach Kafka at {server} ({security.protocol}): {exc}"
    with sock:
        context = security.ssl_context()
        if context is None:
            return None
        try:
            with context.wrap_socket(sock, server_hostname=host):
                return None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            return f"TLS with Kafka at {server} failed (KAFKA_SSL_CAFILE?): {exc}"
        except OSError as exc:
            return f"TLS with Kafka at {server} failed: {exc}"


def connection_problem(
    bootstrap: str, security: KafkaSecurity, timeout_s: float = 10
) -> str | None:
    """One line saying why the brokers cannot be used with these settings, or None.

    The network and TLS are checked first, directly. A broker that then will not let the
    client in while SASL is on is refusing the login: Kafka answers a wrong password with
    an error, or only by closing the connection, and kafka-python then reports no more
    than a bootstrap timeout."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    servers = [server for server in bootstrap.split(",") if server.strip()]
    problems = [_handshake(server, security, timeout_s) for server in servers]
    if servers and all(problems):
        return problems[0]
    heard = _Heard()
    logger = logging.getLogger("kafka")
    logger.addHandler(heard)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="yujing-check",
            request_timeout_ms=int(timeout_s * 1000),
            bootstrap_timeout_ms=int(timeout_s * 1000),
            **security.kafka_python(),
        )
        admin.close()
        return None
    except KafkaError as exc:
        said = " ".join(heard.messages)
        if "UnsupportedSaslMechanism" in said:
            return (
                f"Kafka at {bootstrap} does not offer {security.mechanism}: "
                "check KAFKA_SASL_MECHANISM"
            )
        if security.sasl:
            return (
                f"Kafka at {bootstrap} refused the credentials of {security.username!r} "
                f"({security.mechanism}): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return (
            f"Kafka at {bootstrap} ({security.protocol}) accepted a connection "
            f"but not a client: {exc}"
        )
    finally:
        logger.removeHandler(heard)
