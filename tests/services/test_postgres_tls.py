"""The ticket database over TLS: PostgreSQL verified against its CA, configured by the
database URL (or libpq's PGSSLMODE/PGSSLROOTCERT); a certificate that does not verify is
refused, with one line from the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from alerts.tickets.store import TicketStore
from tests.conftest import ROOT
from tests.receivers import ca_and_server_cert

pytestmark = pytest.mark.postgres


def test_the_store_connects_with_verify_full_and_the_session_is_encrypted(
    postgres_server, postgres_ca
):
    url = f"{postgres_server}?sslmode=verify-full&sslrootcert={postgres_ca}"
    store = TicketStore(url)
    with store.engine.connect() as conn:
        encrypted = conn.execute(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).scalar()
    assert encrypted is True
    store.close()


def test_a_server_certificate_from_another_ca_is_refused_in_one_line(
    postgres_server, postgres_ca, tmp_path
):
    other_ca, _, _ = ca_and_server_cert(tmp_path)
    url = f"{postgres_server}?sslmode=verify-full&sslrootcert={other_ca}"
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "tickets", "list", "--db", url],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "certificate verify failed" in done.stderr
    assert "Traceback" not in done.stderr
