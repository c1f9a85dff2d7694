"""Both of the worker's consumers fetch with FETCH_WAIT_MS. Faust fixes its consumer's
wait at 1.5 s with no setting for it, so ``fetch_promptly`` sets the started consumer's
fetcher through private attributes; these tests hold that those attributes exist in the
installed Faust and aiokafka (an upgrade that renames them fails here, not silently in
production), and that a consumer without them is left alone."""

import inspect
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from monitor.runners.faust.app import fetch_promptly
from monitor.runners.faust.settings import FETCH_WAIT_MS


def app_with(consumer: object) -> SimpleNamespace:
    return SimpleNamespace(consumer=SimpleNamespace(_thread=SimpleNamespace(_consumer=consumer)))


def test_the_started_consumers_fetcher_gets_the_short_wait():
    fetcher = SimpleNamespace(_fetch_max_wait_ms=1500)
    assert fetch_promptly(app_with(SimpleNamespace(_fetcher=fetcher)))
    assert fetcher._fetch_max_wait_ms == FETCH_WAIT_MS < 1500


def test_a_consumer_without_those_internals_is_left_alone():
    assert not fetch_promptly(app_with(None))  # not started yet
    assert not fetch_promptly(app_with(SimpleNamespace(_fetcher=SimpleNamespace())))
    assert not fetch_promptly(SimpleNamespace(consumer=object()))


def test_the_installed_faust_and_aiokafka_have_the_attributes_it_sets():
    # the fetcher reads its wait from this attribute for every request it builds
    assert "self._fetch_max_wait_ms" in inspect.getsource(Fetcher.__init__)
    assert "self._fetch_max_wait_ms," in inspect.getsource(Fetcher._get_actions_per_node)
    assert "self._fetcher = Fetcher(" in inspect.getsource(AIOKafkaConsumer.start)
    # Faust's consumer thread keeps the aiokafka consumer here once started
    assert "self._consumer = self._create_consumer(" in inspect.getsource(
        AIOKafkaConsumerThread.on_start
    )
