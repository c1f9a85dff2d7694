"""Ticket API: transitions, refusals (409), authentication (401), filters; on both backends."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alerts.tickets.api import Role, TokenAuth, create_api
from alerts.tickets.store import TicketStore
from tests.domain import ALICE, AUTH, BOB, T0, database_away, finding


@pytest.fixture
def store(db_url):
    s = TicketStore(db_url)
    yield s
    s.close()


@pytest.fixture
def client(store):
    return TestClient(create_api(store, AUTH, clock=lambda: T0 + 60_000))


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_ticket(store, key="k1", region="r1", metric="complaints.broadband_lag"):
    ticket, _ = store.open(key, f"fp-{key}", finding(T0, region=region, metric=metric), T0)
    return ticket.id


def test_every_transition_through_the_api(store, client):
    tid = open_ticket(store)
    path = f"/api/v1/tickets/{tid}"
    steps = [
        ("acknowledge", "acknowledged"),
        ("start", "in_progress"),
        ("comment", "in_progress"),
        ("resolve", "resolved"),
        ("close", "closed"),
        ("reopen", "open"),
        ("acknowledge", "acknowledged"),
    ]
    for action, state in steps:
        body = {"comment": f"{action} note"}
        if action == "resolve":
            body |= {"outcome": "confirmed_fault", "cause": "transmission"}
        r = client.post(f"{path}/{action}", json=body, headers=as_(ALICE))
        assert r.status_code == 200, r.text
        assert r.json()["state"] == state
    detail = client.get(path, headers=as_(BOB)).json()
    assert detail["owner"] == "alice"
    assert detail["grafana_url"].startswith("http://localhost:3000/d/yujing-region/")
    assert "var-region=r1" in detail["grafana_url"]
    assert [e["action"] for e in detail["events"]] == ["opened", *[a for a, _ in steps]]
    assert detail["events"][1] == {
        "at": T0 + 60_000,
        "actor": "alice",
        "action": "acknowledge",
        "from": "open",
        "to": "acknowledged",
        "comment": "acknowledge note",
    }


def test_forbidden_transitions_answer_409_with_the_reason(store, client):
    tid = open_ticket(store)
    client.post(f"/api/v1/tickets/{tid}/acknowledge", headers=as_(ALICE))
    r = client.post(f"/api/v1/tickets/{tid}/resolve", headers=as_(ALICE))
    assert r.status_code == 409 and "resolving needs an outcome" in r.json()["detail"]
    r = client.post(
        f"/api/v1/tickets/{tid}/resolve", json={"outcome": "tuesday"}, headers=as_(ALICE)
    )
    assert r.status_code == 422  # not an outcome: the schema says which are
    for action, body in (("resolve", {"outcome": "false_alarm"}), ("close", None)):
        r = client.post(f"/api/v1/tickets/{tid}/{action}", json=body, headers=as_(ALICE))
        assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/tickets/{tid}", headers=as_(BOB)).json()["outcome"] == (
        "false_alarm"
    )
    r = client.post(
        f"/api/v1/tickets/{tid}/resolve", json={"outcome": "false_alarm"}, headers=as_(ALICE)
    )
    assert r.status_code == 409
    assert r.json() == {
        "detail": "cannot resolve a ticket that is closed (allowed from: "
        "acknowledged, in_progress)",
        "action": "resolve",
        "state": "closed",
    }


def test_only_the_first_responder_moves_the_ticket_forward(store, client):
    tid = open_ticket(store)
    client.post(f"/api/v1/tickets/{tid}/acknowledge", headers=as_(ALICE))
    r = client.post(f"/api/v1/tickets/{tid}/resolve", headers=as_(BOB))
    assert r.status_code == 409 and "alice owns this ticket" in r.json()["detail"]
    assert (
        client.post(
            f"/api/v1/tickets/{tid}/comment", json={"comment": "saw it too"}, headers=as_(BOB)
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "headers", [{}, as_("wrong-token-0000000000"), {"Authorization": "Basic YWxpY2U6cHc="}]
)
def test_missing_or_invalid_token_answers_401(store, client, headers):
    tid = open_ticket(store)
    for method, url in (
        ("post", f"/api/v1/tickets/{tid}/acknowledge"),
        ("get", "/api/v1/tickets"),
        ("get", f"/api/v1/tickets/{tid}"),
    ):
        r = client.request(method, url, headers=headers)
        assert r.status_code == 401, (method, url, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert store.get(tid).state == "open"  # nothing changed


def test_reads_may_be_open_by_config_but_changes_never(store):
    client = TestClient(create_api(store, TokenAuth(AUTH.tokens, anonymous_read=True)))
    tid = open_ticket(store)
    assert client.get("/api/v1/tickets").json()["total"] == 1
    assert client.post(f"/api/v1/tickets/{tid}/acknowledge").status_code == 401


def test_filters_and_paging(store, client):
    open_ticket(store, "k1", "north", "complaints.broadband_lag")
    open_ticket(store, "k2", "north", "complaints.billing_dispute")
    third = open_ticket(store, "k3", "south", "complaints.billing_dispute")
    client.post(f"/api/v1/tickets/{third}/acknowledge", headers=as_(ALICE))

    def regions(**params):
        page = client.get("/api/v1/tickets", params=params, headers=as_(BOB)).json()
        return page["total"], sorted(t["region"] for t in page["items"])

    assert regions(region="north") == (2, ["north", "north"])
    assert regions(department="billing") == (2, ["north", "south"])
    assert regions(state="acknowledged") == (1, ["south"])
    assert regions(severity="major", region="south") == (1, ["south"])
    assert regions(limit=1) == (3, ["south"])  # newest first
    assert regions(limit=2, offset=2) == (3, ["north"])
    assert (
        client.get("/api/v1/tickets", params={"state": "bogus"}, headers=as_(BOB)).status_code
        == 422
    )


@pytest.mark.parametrize(
    "evil",
    [
        "north' OR '1'='1",
        'north"; DROP TABLE tickets; --',
        "%",
        "north' UNION SELECT * FROM ticket_events --",
        "north\x00",
    ],
)
def test_no_sql_injection_through_filters(store, client, evil):
    open_ticket(store, "k1", "north")
    r = client.get("/api/v1/tickets", params={"region": evil}, headers=as_(BOB))
    if "\x00" in evil:  # PostgreSQL cannot even compare text with NUL: refused up front
        assert r.status_code == 422
        return
    assert r.status_code == 200 and r.json() == {"items": [], "total": 0, "limit": 100, "offset": 0}
    assert client.get("/api/v1/tickets", headers=as_(BOB)).json()["total"] == 1  # table intact


def test_a_comment_a_terminal_would_obey_is_refused_as_input(store, client):
    tid = open_ticket(store)
    path = f"/api/v1/tickets/{tid}/comment"
    r = client.post(path, json={"comment": "ok \x1b]0;pwned\x07"}, headers=as_(BOB))
    assert r.status_code == 422 and "control characters (U+001B" in r.text
    assert client.post(path, json={"comment": "a\r\nb"}, headers=as_(BOB)).status_code == 200


def test_a_token_for_a_name_with_control_characters_is_refused():
    from alerts.tickets.api import TokenAuth

    with pytest.raises(ValueError, match="bad user"):
        TokenAuth.parse("ev\x1bil=0123456789abcdef0123")


def test_unknown_ticket_and_action(store, client):
    assert client.get("/api/v1/tickets/999", headers=as_(BOB)).status_code == 404
    assert client.post("/api/v1/tickets/999/acknowledge", headers=as_(BOB)).status_code == 404
    tid = open_ticket(store)
    assert client.post(f"/api/v1/tickets/{tid}/explode", headers=as_(BOB)).status_code == 422


def test_openapi_describes_the_api(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/api/v1/tickets/{ticket_id}/page",
        "/api/v1/tickets/{ticket_id}/{action}",
        "/api/v1/pages/tickets",
        "/api/v1/outbox/retry",
        "/api/v1/reports/monthly",
    }
    post = spec["paths"]["/api/v1/tickets/{ticket_id}/{action}"]["post"]
    assert {"200", "401", "404", "409"} <= set(post["responses"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_token_file_format():
    auth = TokenAuth.parse("alice=abcdefghijklmnop  # on-call\n\nbob = 0123456789abcdefXYZ\n")
    assert auth.user_of("abcdefghijklmnop") == "alice"
    assert auth.user_of("0123456789abcdefXYZ") == "bob"
    with pytest.raises(ValueError, match="at least 16"):
        TokenAuth.parse("carol=short")


def test_roles_per_token_viewer_reads_operator_acts_admin_retries(store, client):
    from tests.domain import ADMIN, VIEWER

    tid = open_ticket(store)
    assert client.get(f"/api/v1/tickets/{tid}", headers=as_(VIEWER)).status_code == 200
    refused = client.post(f"/api/v1/tickets/{tid}/acknowledge", headers=as_(VIEWER))
    assert refused.status_code == 403 and "vera is a viewer" in refused.json()["detail"]
    assert store.get(tid).state == "open"
    assert client.post("/api/v1/outbox/retry", headers=as_(ALICE)).status_code == 403
    done = client.post("/api/v1/outbox/retry", headers=as_(ADMIN))
    assert done.status_code == 200 and done.json() == {"requeued": 0, "by": "adam"}
    assert client.post(f"/api/v1/tickets/{tid}/acknowledge", headers=as_(ALICE)).status_code == 200


def test_token_lines_name_the_role():
    auth = TokenAuth.parse("li.wei=0123456789abcdef0\nboss:admin=fedcba98765432100\n")
    assert auth.role_of("li.wei") is Role.OPERATOR and auth.role_of("boss") is Role.ADMIN
    with pytest.raises(ValueError, match="viewer, operator or admin"):
        TokenAuth.parse("x:god=0123456789abcdef0")


def test_the_monthly_review_as_json(store, client):
    """The figures of `yujing report monthly`, for tools: tickets first fired in the month
    (T0 is 2027-01-15 in the default zone, +08:00)."""
    tid = open_ticket(store)
    client.post(f"/api/v1/tickets/{tid}/acknowledge", headers=as_(ALICE))
    body = {"outcome": "confirmed_fault", "cause": "capacity"}
    assert client.post(f"/api/v1/tickets/{tid}/resolve", json=body, headers=as_(ALICE)).is_success
    r = client.get("/api/v1/reports/monthly", params={"month": "2027-01"}, headers=as_(BOB))
    assert r.status_code == 200, r.text
    review = r.json()
    assert review["tickets"] == 1
    assert review["sla"]["by_clock"]["acknowledge"]["met"] == 1
    assert review["quality"]["by_spec"]["spec"]["precision"] == 1.0
    empty = client.get("/api/v1/reports/monthly", params={"month": "2026-12"}, headers=as_(BOB))
    assert empty.json()["tickets"] == 0
    assert client.get("/api/v1/reports/monthly", params={"month": "2027-13"},
                      headers=as_(BOB)).status_code == 422  # fmt: skip
    assert client.get("/api/v1/reports/monthly", params={"month": "2027-01"}).status_code == 401


def test_a_ticket_database_away_answers_503_and_its_return_answers_again(tmp_path):
    """Restarting or unreachable, the database is something to wait out: 503 with a
    Retry-After, not a 500 that says the API is broken."""
    with database_away(tmp_path) as (store, away):
        tid = open_ticket(store)
        client = TestClient(create_api(store, AUTH, clock=lambda: T0 + 60_000))
        with away():
            for method, path in (
                ("GET", "/api/v1/tickets"),
                ("GET", f"/api/v1/tickets/{tid}"),
                ("POST", f"/api/v1/tickets/{tid}/acknowledge"),
            ):
                r = client.request(method, path, headers=as_(ALICE))
                assert r.status_code == 503, r.text
                assert r.json() == {
                    "detail": "the ticket database is unavailable; try again shortly"
                }
                assert r.headers["retry-after"] == "5"
        r = client.post(f"/api/v1/tickets/{tid}/acknowledge", headers=as_(ALICE))
        assert r.status_code == 200 and r.json()["owner"] == "alice"
