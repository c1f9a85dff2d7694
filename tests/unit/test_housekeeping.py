"""Escalation and delivery outlive a ticket database that goes away for a while."""

import logging

from alerts.notify.housekeeping import SAY_EVERY, Housekeeping
from alerts.notify.outbox import Dispatcher
from tests.domain import MIN, T0, database_away, finding


def test_a_database_away_is_said_once_a_minute_and_its_return_resumes_the_work(tmp_path, caplog):
    with database_away(tmp_path) as (store, away):
        ticket, _ = store.open("k1", "fp1", finding(T0), T0)
        now = T0 + 20 * MIN  # the acknowledgement's 15 minutes are over
        steps = Housekeeping(
            store.escalate_due, Dispatcher(store.engine, {}), escalate_every_ms=0, clock=lambda: now
        )
        with caplog.at_level(logging.WARNING, logger="yujing.housekeeping"):
            with away():
                for _ in range(SAY_EVERY + 1):
                    steps.step()  # raised, and ended whatever hosted it
                said = [r.getMessage() for r in caplog.records]
                assert (
                    said == ["ticket database unavailable: escalation and delivery wait for it"] * 2
                )
                assert "unable to open database file" in caplog.records[0].fields["error"]
                caplog.clear()
            steps.step()
        assert [r.getMessage() for r in caplog.records] == [
            "ticket database back: escalation and delivery resume"
        ]
        assert caplog.records[0].fields == {"failed_steps": SAY_EVERY + 1}
        assert store.get(ticket.id).escalation_level == 1
