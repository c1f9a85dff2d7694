"""An operator's own taxonomy end to end: a config declares a complaint category
(``5g_no_service``, the network team's) and a KPI (``prb_utilisation``); the operator's
CSV exports of them are imported, aggregated by the hour, judged, ticketed to the
department the taxonomy names and exported on /metrics. The embedded runner here; the
Kafka worker in tests/services/test_kafka_taxonomy.py."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest

from monitor.config.checks import ConfigError
from monitor.config.load import parse_config
from monitor.importers.csv_import import import_csv, read_regions
from monitor.importers.mapping import ColumnMap
from monitor.runners.embedded import build, run_lines
from tests.helpers import complaint, region

TAXONOMY = """\
windows: {inputs: [complaint]}
taxonomy:
  categories:
    - {name: 5g_no_service, group: product_quality, department: network_maintenance}
    - {name: billing_dispute, group: product_quality, department: billing}
  channels: [hotline, wechat]
  kpis:
    - {name: prb_utilisation, unit: "%", min: 0, max: 100}
detectors:
  - id: no-service
    detector: threshold
    metrics: [complaints.5g_no_service]
    params: {threshold: 2}
"""


def own_events(tmp: Path) -> list[bytes]:
    """The events ``yujing import csv`` makes of the operator's two exports (complaints
    from the CRM, a KPI from the OSS), with the config's taxonomy."""
    config = parse_config(TAXONOMY, "own.yaml")
    crm, oss = tmp / "crm.csv", tmp / "oss.csv"
    rows = ["ticket,opened,area,problem,via"]
    for h in range(4):
        rows += [
            f"c{h}{k},2026-10-05 {h:02d}:1{k}:00,r1,5G无服务,微信"
            for k in range(3 if h == 2 else 1)
        ]
    rows.append("old,2026-10-05 04:30:00,r1,broadband_lag,hotline")  # not this taxonomy's
    crm.write_text("\n".join(rows) + "\n", encoding="utf-8")
    oss.write_text(
        "time,cell,region,prb\n"
        + "".join(f"2026-10-05T{h:02d}:20:00Z,r1-c1,r1,{70 + h}\n" for h in range(4))
    )
    (tmp / "regions.csv").write_text("region,subscribers\nr1,50000\n")
    mappings = (
        (crm, ColumnMap(
            kind="complaints", time="opened", region="area", id="ticket", category="problem",
            channel="via", timezone="UTC",
            recode={"category": {"5G无服务": "5g_no_service"}, "channel": {"微信": "wechat"}},
        )),
        (oss, ColumnMap(kind="kpis", site="cell", kpi_columns={"prb_utilisation": "prb"})),
    )  # fmt: skip
    lines: list[bytes] = []
    for source, mapping in mappings:
        out = tmp / f"{source.stem}.jsonl"
        regions = read_regions(tmp / "regions.csv") if source is crm else None
        report = import_csv(
            source, mapping, out, tmp / f"{source.stem}.rejects.csv",
            config.known_metrics, regions, taxonomy=config.vocabulary,
        )  # fmt: skip
        assert dict(report.rejected) == ({"unknown_category": 1} if source is crm else {})
        lines += out.read_bytes().splitlines()
    # the two exports merged in time order, as a replay of them would read them
    return sorted(lines, key=lambda line: orjson.loads(line).get("event_time", 0))


def test_a_declared_category_and_kpi_go_all_the_way(tmp_path):
    config = parse_config(TAXONOMY, "own.yaml")
    run = build(config, f"sqlite:///{tmp_path / 't.db'}", tmp_path, metrics=True)
    aggregates = []
    run.pipeline.observe(aggregate=aggregates.append)
    run_lines(run, iter(own_events(tmp_path)))
    run.pipeline.finish()
    assert not run.pipeline.stats.dead_lettered
    by_hour = {a.hour % 86_400_000 // 3_600_000: a for a in aggregates}
    assert by_hour[2].complaints == {"5g_no_service": 3}
    assert by_hour[2].value("kpi.prb_utilisation.max") == 72.0
    [ticket] = run.tickets.all()
    assert (ticket.metric, ticket.department) == ("complaints.5g_no_service", "network_maintenance")
    exported = generate_latest(run.metrics.registry).decode()
    assert 'yujing_region_complaints{category="5g_no_service",region="r1"}' in exported
    assert 'yujing_region_kpi{kpi="prb_utilisation",region="r1",stat="max"}' in exported


def test_a_reload_adds_a_category_and_refuses_to_drop_one_in_use(tmp_path):
    config = parse_config(TAXONOMY, "own.yaml")
    run = build(config, "sqlite://", tmp_path)
    run_lines(
        run,
        iter(
            [
                region("r1", 50_000),
                complaint("2026-10-05T01:00:00Z", category="x_new", channel="hotline"),
            ]
        ),
    )
    assert dict(run.pipeline.stats.dead_lettered) == {"unknown_category": 1}
    grown = TAXONOMY.replace(
        "    - {name: billing_dispute,",
        "    - {name: x_new, group: other, department: service_coordinator}\n"
        "    - {name: billing_dispute,",
    )
    run.pipeline.reload(parse_config(grown, "own.yaml"))
    run_lines(
        run,
        iter([complaint("2026-10-05T01:05:00Z", category="x_new", id_="c2", channel="hotline")]),
    )
    assert dict(run.pipeline.stats.dead_lettered) == {"unknown_category": 1}, "no restart"
    shrunk = TAXONOMY.replace(
        "    - {name: 5g_no_service, group: product_quality, department: network_maintenance}\n",
        "",
    )
    with pytest.raises(ConfigError) as info:
        parse_config(shrunk, "own.yaml")
    assert "own.yaml:11: detectors[0].metrics[0]: unknown metric " in str(info.value)
    assert "complaints.5g_no_service" in str(info.value)
