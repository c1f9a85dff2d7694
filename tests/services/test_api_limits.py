"""The ticket API on a real server: bodies are refused before they are read, 422s do not
echo their input, and text that is not Unicode is an input error, not a 500."""

from __future__ import annotations

import socket

import httpx
import pytest

from alerts.tickets.api import MAX_BODY_BYTES
from alerts.tickets.store import TicketStore
from monitor.runners.api_server import start_api
from tests.conftest import free_port
from tests.domain import ALICE, AUTH, T0, finding


@pytest.fixture
def served(sqlite_url):
    store = TicketStore(sqlite_url)
    ticket, _ = store.open("k1", "fp1", finding(T0), T0)
    port = free_port()
    server = start_api(store, AUTH, "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}", ticket
    server.stop()
    store.close()


def raw_request(base: str, head: str, first_bytes: bytes) -> bytes:
    """Send headers announcing a large body and only its first bytes; return the answer
    that comes while the rest was never sent (a server reading the body would wait)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + first_bytes)
        return sock.recv(4096)


def test_a_large_body_without_a_token_is_refused_before_it_is_read(served):
    base, ticket = served
    head = (
        f"POST /api/v1/tickets/{ticket.id}/comment HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n"
    )
    answer = raw_request(base, head, b'{"comment": "' + b"x" * 1024)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:80]


def test_a_body_over_the_limit_is_refused_before_it_is_read(served):
    base, ticket = served
    head = (
        f"POST /api/v1/tickets/{ticket.id}/comment HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ALICE}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n"
    )
    answer = raw_request(base, head, b'{"comment": "' + b"x" * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]


def test_a_chunked_body_growing_past_the_limit_is_refused(served):
    base, ticket = served

    def chunks():
        yield b'{"comment": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 8):
            yield b"x" * 1024
        yield b'"}'

    response = httpx.post(
        f"{base}/api/v1/tickets/{ticket.id}/comment",
        content=chunks(),
        headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_a_422_says_what_is_wrong_without_echoing_the_input(served):
    base, ticket = served
    comment = "y" * 5000  # over the 4,000-character limit
    response = httpx.post(
        f"{base}/api/v1/tickets/{ticket.id}/comment",
        json={"comment": comment},
        headers={"Authorization": f"Bearer {ALICE}"},
    )
    assert response.status_code == 422
    assert len(response.content) < 1000 and comment not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "comment"]


def test_a_lone_surrogate_is_an_input_error_not_a_500(served):
    base, ticket = served
    response = httpx.post(
        f"{base}/api/v1/tickets/{ticket.id}/comment",
        content=b'{"comment": "\\ud800"}',
        headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "comment"]
