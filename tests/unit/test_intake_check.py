"""The intake's check of a raw batch: records of several topics interleaved, each judged
by its own topic's kind, the dead letters in the batch's order."""

import time

from alerts.taxonomy import DEFAULT_TAXONOMY
from monitor.events.deadletters import Reason
from monitor.events.parsing import check_record
from monitor.runners.faust.bundles import decode_bundle
from monitor.runners.faust.validation import IntakeRules, check_batch
from monitor.windows.aggregation import WindowConfig
from tests.helpers import complaint, kpi

HOUR = 3_600_000


def test_interleaved_topics_keep_their_kinds_and_the_batch_order():
    now = int(time.time() * 1000)
    at = now - HOUR
    untyped = complaint(at, id_="u1").replace(b'"type":"complaint",', b"")
    rules = IntakeRules(DEFAULT_TAXONOMY, WindowConfig(), 4, {"c": "complaint", "k": "kpi"})
    records = [
        (kpi(at, 1.5), "k:0", 10),
        (untyped, "c:0", 20),  # the complaints topic says what it is
        (b"", "k:0", 11),
        (complaint(at, id_="c2"), "k:0", 12),  # a complaint on the KPI topic
        (b'{"type": "kpi"}', "c:1", 30),
        (kpi(at + 3 * HOUR * 24 * 400, 2.0), "k:1", 40),  # far ahead of the clock
        (complaint(at, id_="c3"), "c:0", 21),
    ]
    checked = check_batch(records, rules, now)
    assert checked.received == len(records)
    assert [(d.offset, d.source, d.reason) for d in checked.dead] == [
        (11, "k:0", Reason.EMPTY),
        (12, "k:0", Reason.UNKNOWN_TYPE),
        (30, "c:1", Reason.UNKNOWN_TYPE),
        (40, "k:1", Reason.BAD_TIME),
    ]
    # the letters are the ones a record gets alone, and the valid ones are bundled
    assert checked.dead[1] == check_record(
        records[3][0], kind="kpi", source="k:0", offset=12, taxonomy=DEFAULT_TAXONOMY
    )
    bundled = sorted(
        (source, offset)
        for bundles in checked.bundles.values()
        for bundle in bundles
        for _raw, source, offset, _event in decode_bundle(bundle)
    )
    assert bundled == [("c:0", 20), ("c:0", 21), ("k:0", 10)]
