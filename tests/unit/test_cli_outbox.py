"""``yujing outbox``: what on-call reads after fixing an endpoint."""

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from alerts.notify.outbox import Delivery, DeliveryState
from alerts.policy.notifiers import MemoryNotifier
from alerts.policy.service import AlertService
from alerts.policy.settings import AlertSettings
from alerts.tickets.models import TicketEvent
from alerts.tickets.store import TicketStore
from monitor.cli.main import app
from tests.domain import T0, finding, tick


def outbox_with(url: str, *states: DeliveryState) -> None:
    """A ticket, and one delivery of its opening to ``slack`` in each of ``states``."""
    store = TicketStore(url)
    AlertService(store=store, notifier=MemoryNotifier(), settings=AlertSettings()).handle(
        tick(T0, finding(T0)), now=T0
    )
    (ticket,) = store.all()
    with Session(store.engine) as s, s.begin():
        event = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).first()
        for n, state in enumerate(states):
            s.add(
                Delivery(
                    key=f"k{n}", ticket_id=ticket.id, event_id=event.id, channel="slack",
                    payload="{}", state=state.value, attempts=5, next_attempt_at=0,
                    created_at=T0,
                )
            )  # fmt: skip
    store.close()


def test_a_dead_delivery_is_counted_and_queued_again(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    outbox_with(url, DeliveryState.DEAD, DeliveryState.DELIVERED)
    status = CliRunner().invoke(app, ["outbox", "status", "--db", url])
    assert status.exit_code == 0 and "dead" in status.stdout and "delivered" in status.stdout
    retried = CliRunner().invoke(app, ["outbox", "retry", "--db", url, "--channel", "slack"])
    assert retried.exit_code == 0 and retried.stdout.strip() == "1 dead delivery queued again"


def test_a_mistyped_channel_or_database_is_said_not_counted_as_nothing(tmp_path):
    """A typo in --db made a new, empty database and showed an empty table; a typo in
    --channel said "0 dead deliveries queued again"."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    outbox_with(url, DeliveryState.DEAD)
    typo = CliRunner().invoke(app, ["outbox", "retry", "--db", url, "--channel", "slak"])
    assert typo.exit_code == 2 and "its channels: slack" in typo.stderr
    for command in ("status", "retry"):
        missing = tmp_path / f"{command}.db"
        done = CliRunner().invoke(app, ["outbox", command, "--db", f"sqlite:///{missing}"])
        assert done.exit_code == 2 and "no ticket database" in done.stderr
        assert not missing.exists()


def test_an_empty_outbox_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    TicketStore(url).close()
    status = CliRunner().invoke(app, ["outbox", "status", "--db", url])
    assert status.exit_code == 0 and "The outbox is empty" in status.stdout
