"""Schemathesis explores the OpenAPI description: no request may cause a server error.

Schemathesis generates the requests; FastAPI's TestClient sends them (schemathesis's own
requests-based transport trips over the urllib3 fork that grafana-client brings along).
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from alerts.tickets.api import create_api
from alerts.tickets.store import TicketStore
from tests.domain import ALICE, AUTH, T0, finding


def test_no_request_causes_a_server_error(db_url):
    store = TicketStore(db_url)
    for k, region in enumerate(("north", "south", "east")):
        store.open(f"k{k}", f"fp{k}", finding(T0, region=region), T0)
    app = create_api(store, AUTH)
    client = TestClient(app, raise_server_exceptions=True)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    # with the pages' fragments (a ticket, the list) and the monthly review
    assert len(operations) == 7
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in [(op, mode) for op in operations for mode in modes]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def explore(case: schemathesis.Case) -> None:
            for auth in ({"Authorization": f"Bearer {ALICE}"}, {}):
                request = case.as_transport_kwargs()
                headers = {**(request.get("headers") or {}), **auth}
                response = client.request(
                    request["method"],
                    case.formatted_path,
                    headers=headers,
                    params=request.get("params"),
                    json=request.get("json"),
                    content=request.get("data") if "json" not in request else None,
                )
                assert response.status_code < 500, (case.as_curl_command(), response.text)

        explore()
    store.close()
