"""Two people at once: transitions are atomic on SQLite and PostgreSQL.

Before, a transition read the ticket and wrote it back: of 50 parallel acknowledgements
up to 15 were told they owned the ticket, and mixed transitions left closed tickets
holding their series' active fingerprint and audit chains with breaks.
"""

from __future__ import annotations

import itertools
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from sqlalchemy import select

from alerts.tickets.lifecycle import ACTIVE_STATES, Refused
from alerts.tickets.models import Ticket
from alerts.tickets.store import TicketStore
from alerts.tickets.view import TicketView
from tests.domain import T0, finding

PEOPLE = ("alice", "bob")


def in_parallel(calls: list, workers: int = 16) -> list:
    """Run the calls on threads held until all are submitted, so that they really race."""
    go = threading.Event()

    def run(call):
        go.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, call) for call in calls]
        go.set()
        return [f.result(timeout=120) for f in futures]


def test_one_of_fifty_parallel_acknowledgements_wins(db_url):
    store = TicketStore(db_url)
    ticket, _ = store.open("k1", "fp1", finding(T0), T0)
    calls = [
        partial(store.transition, ticket.id, "acknowledge", PEOPLE[i % 2], "", T0)
        for i in range(50)
    ]
    results = in_parallel(calls)
    winners = [r for r in results if isinstance(r, TicketView)]
    assert len(winners) == 1, [r.owner for r in winners]
    assert all(isinstance(r, Refused) for r in results if r is not winners[0])
    assert store.get(ticket.id).owner == winners[0].owner
    acks = [e for e in store.events(ticket.id) if e["action"] == "acknowledge"]
    assert len(acks) == 1 and acks[0]["actor"] == winners[0].owner
    store.close()


def test_mixed_parallel_transitions_keep_every_invariant(db_url):
    store = TicketStore(db_url)
    tickets = [store.open(f"k{i}", f"fp{i}", finding(T0, region=f"r{i}"), T0)[0] for i in range(3)]
    rng = random.Random(7)
    actions = ("acknowledge", "start", "resolve", "close", "reopen", "comment")
    for round_ in range(4):
        calls = [
            partial(
                store.transition,
                rng.choice(tickets).id,
                action,
                rng.choice(PEOPLE),
                f"round {round_}",
                T0 + round_,
                "false_alarm" if action == "resolve" else None,
            )
            for action in (rng.choice(actions) for _ in range(40))
        ]
        in_parallel(calls)
    with store.session() as s:
        rows = s.scalars(select(Ticket)).all()
        for row in rows:
            active = row.state in [state.value for state in ACTIVE_STATES]
            assert (row.active_fingerprint is not None) == active, (row.state, row.id)
            if row.state != "open":
                assert row.owner is not None, (row.id, row.state)
    for t in tickets:
        chain = [e for e in store.events(t.id) if e["action"] != "comment"]
        for before, after in itertools.pairwise(chain):
            assert after["from"] == before["to"], (t.id, before, after)
    store.close()
