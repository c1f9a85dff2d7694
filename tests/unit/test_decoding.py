"""The fast decoder accepts only what the pydantic models accept, as the same events.

Whatever ``decode_valid`` declines goes to the models, so dead letters cannot change;
what it accepts must be exactly the event the models would build. Hypothesis mutates valid
records field by field (wrong types, edge strings, times as text, huge numbers, extra and
missing keys, duplicate keys) and compares the two paths.
"""

from __future__ import annotations

import json
from unittest import mock

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.taxonomy import DEFAULT_TAXONOMY, CategoryInfo, Department, KpiInfo, Taxonomy
from monitor.events import parsing
from monitor.events.decoding import decode_valid, model_of
from monitor.events.parsing import parse_event

CUSTOM = Taxonomy(
    categories=(CategoryInfo("slow_fibre", "product_quality", Department.NETWORK_MAINTENANCE),),
    channels=("wechat",),
    kpis=(KpiInfo("rsrp", "dBm", -140.0, -44.0), KpiInfo("x" * 65, "", 0.0, 1.0)),
)

VALID = {
    "complaint": {
        "type": "complaint",
        "id": "c-1",
        "event_time": "2026-11-27T20:15:00+08:00",
        "region": "north-1",
        "category": "broadband_lag",
        "channel": "app",
        "text": "宽带卡顿",
    },
    "kpi": {
        "type": "kpi",
        "event_time": 1_795_000_000_000,
        "region": "north-1",
        "site": "s-7",
        "kpi": "packet_loss",
        "value": 2.5,
    },
    "kpi_report": {
        "type": "kpi_report",
        "period_start": 1_795_000_000_000,
        "interval_s": 300,
        "region": "north-1",
        "site": "s-7",
        "kpis": {"latency": [12, 13.5], "packet_loss": [0.0, 100]},
    },
}

EDGE_TEXT = st.sampled_from(
    [
        "",
        "north\n",
        "north ",
        "-north",
        "r" * 64,
        "r" * 65,
        "x" * 128,
        "x" * 129,
        "𝔁" * 64,
        "𝔁" * 65,
        "2026-11-27T20:15:00",
        "2026-11-27T20:15:00Z",
        "2026-11-27",
        "1795000000000",
        "1e3",
        "NaN",
        "broadband_lag",
        "slow_fibre",
        "app",
        "wechat",
        "latency",
        "rsrp",
        "kpi",
        "complaint",
        "kpi_report",
        "region",
        "x" * 65,
        "x" * 4001,
    ]
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**53, 2**53 - 1, 2**63, 2**64, 3600, 3601, 1e300, -0.0, 0.5, 100.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, EDGE_TEXT, st.text(max_size=80))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(EDGE_TEXT, st.text(max_size=5)), inner, max_size=3),
    ),
    max_leaves=8,
)


@st.composite
def records(draw: st.DrawFn) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(list(VALID)))
    payload = dict(VALID[kind])
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*payload, "extra", "type"]))
        action = draw(st.sampled_from(["replace", "drop", "kpis"]))
        if action == "drop":
            payload.pop(key, None)
        elif action == "kpis" and isinstance(payload.get("kpis"), dict):
            name = draw(st.one_of(EDGE_TEXT, st.text(max_size=5)))
            payload["kpis"] = payload["kpis"] | {name: draw(st.lists(NUMBERS, max_size=3))}
        else:
            payload[key] = draw(VALUES)
    # Python's encoder writes what orjson refuses (integers beyond 64 bits, lone surrogates)
    raw = json.dumps(payload, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.booleans()) and "region" in payload:  # a duplicate key: the last one counts
        raw = raw[:-1] + b',"region":' + json.dumps(draw(EDGE_TEXT)).encode() + b"}"
    topic_kind = draw(st.sampled_from([None, "complaint", "kpi"]))
    return raw, topic_kind


def models_only(raw: bytes, kind: str | None, taxonomy: Taxonomy):
    with mock.patch.object(parsing, "decode_valid", lambda *_args: None):
        return parse_event(raw, kind=kind, taxonomy=taxonomy)


@settings(max_examples=600, deadline=None)
@given(records(), st.sampled_from([DEFAULT_TAXONOMY, CUSTOM]))
def test_the_fast_path_accepts_only_what_the_models_accept_as_the_same_event(record, taxonomy):
    raw, kind = record
    fast = decode_valid(raw, kind, taxonomy)
    slow = models_only(raw, kind, taxonomy)
    if fast is not None:
        assert model_of(fast) == slow
        assert type(model_of(fast)) is type(slow)
        # the same JSON but for the order of a report's KPIs, which the fast path gives in
        # the taxonomy's order (a mapping's order is no part of the event)
        assert orjson.loads(model_of(fast).model_dump_json()) == orjson.loads(
            slow.model_dump_json()
        )
        # what windows read of an event is the same on the struct as on the model
        for name in ("type", "region", "event_time", "readings"):
            assert getattr(fast, name) == getattr(slow, name)


def test_valid_records_take_the_fast_path_and_the_rest_get_the_models_dead_letters():
    for kind, payload in VALID.items():
        raw = orjson.dumps(payload)
        fast = decode_valid(raw, None, DEFAULT_TAXONOMY)
        assert fast is not None and model_of(fast) == models_only(raw, None, DEFAULT_TAXONOMY)
        assert decode_valid(raw, kind if kind != "kpi_report" else "kpi", DEFAULT_TAXONOMY)
    # the topic names the kind: a complaint without ``type`` is still fast
    untyped = orjson.dumps({k: v for k, v in VALID["complaint"].items() if k != "type"})
    assert decode_valid(untyped, "complaint", DEFAULT_TAXONOMY) is not None
    bad = orjson.dumps(VALID["kpi"] | {"value": 101})
    assert decode_valid(bad, "kpi", DEFAULT_TAXONOMY) is None
    assert parse_event(bad, kind="kpi").reason.value == "out_of_range"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(records(), max_size=12),
    st.sampled_from([None, "complaint", "kpi"]),
    st.sampled_from([DEFAULT_TAXONOMY, CUSTOM]),
)
def test_a_batch_gets_the_answers_its_records_get_one_by_one(batch, kind, taxonomy):
    """A worker checks a batch in one loop; each record's event or dead letter (reason,
    field, offset) is the one ``check_record`` gives it alone."""
    # and the blank, and a valid record padded past the size limit
    padded = orjson.dumps(VALID["kpi"]) + b" " * parsing.MAX_RECORD_BYTES
    raws = [raw for raw, _kind in batch] + [b"", b" \n", padded]
    offsets = list(range(len(raws)))
    together = parsing.check_records(
        raws, kind=kind, source="t:0", offsets=offsets, taxonomy=taxonomy
    )
    alone = [
        parsing.check_record(raw, kind=kind, source="t:0", offset=i, taxonomy=taxonomy)
        for i, raw in enumerate(raws)
    ]
    assert together == alone
