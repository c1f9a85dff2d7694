"""A worker catching up on a backlog judges runs of hours with one scan (as a replay
does): the same findings and tickets as judging the hours one at a time, whether a batch
holds the backlog or the hours wait while the worker is behind its input."""

from alerts.policy.notifiers import MemoryNotifier
from alerts.policy.service import AlertService
from alerts.tickets.store import TicketStore
from monitor.config.load import load_config
from monitor.events.deadletters import MemoryDeadLetters
from monitor.lab.simulate_events import SimConfig, generate
from monitor.pipeline import Pipeline
from monitor.runners.embedded import build


def live_pipeline(url: str) -> Pipeline:
    config = load_config()
    alerts = AlertService(store=TicketStore(url), notifier=MemoryNotifier(), settings=config.alerts)
    return Pipeline(config, alerts, MemoryDeadLetters())


def test_a_backlog_judged_in_runs_finds_what_hour_by_hour_finds(tmp_path, monkeypatch):
    run = build(load_config(), f"sqlite:///{tmp_path / 'source.db'}")
    aggregates = []
    run.pipeline.observe(aggregate=aggregates.append)
    _world, lines = generate(SimConfig(seed=5, regions=6, weeks=5))
    for n, line in enumerate(lines, start=1):
        run.pipeline.feed(line, source="sim", offset=n)
    run.pipeline.finish()
    assert len(aggregates) > 6 * 24 * 30

    waiting: list[int] = []

    def judged(pipeline: Pipeline, batches: list[list], behind: bool = False) -> tuple[list, list]:
        findings: list = []
        pipeline.observe(
            tick=lambda t: findings.extend(
                (t.hour, f.spec_id, f.finding.region, f.finding.metric) for f in t.findings
            )
        )
        for n, batch in enumerate(batches, start=1):
            pipeline.apply(batch, behind=behind)
            waiting.append(pipeline.hours_to_judge)  # what a worker's status page shows
            if n % 7 == 0:  # a snapshot
                pipeline.judge_backlog()
        pipeline.judge_backlog()
        assert pipeline.hours_to_judge == 0
        tickets = [
            (t.key, t.metric, t.first_hour, t.last_fired_hour, t.occurrences, t.recovered_at)
            for t in pipeline.alerts.store.all()
        ]
        return sorted(findings), tickets

    by_hour: dict[int, list] = {}
    for a in aggregates:
        by_hour.setdefault(a.hour, []).append(a)
    one_at_a_time = judged(
        live_pipeline(f"sqlite:///{tmp_path / 'a.db'}"), [by_hour[h] for h in sorted(by_hour)]
    )
    runs = []
    mixed = []  # runs whose hours were closed by different regions
    scan_run = Pipeline._scan_run

    def counted(self: Pipeline, first: int, last: int, closed: dict[int, set[str]]) -> None:
        runs.append((last - first) // 3_600_000 + 1)
        mixed.append(len({frozenset(r) for r in closed.values()}) > 1)
        scan_run(self, first, last, closed)

    monkeypatch.setattr(Pipeline, "_scan_run", counted)
    backlog = judged(live_pipeline(f"sqlite:///{tmp_path / 'b.db'}"), [aggregates])
    assert max(runs) == 24  # the backlog went in runs of a day
    assert one_at_a_time[0] and one_at_a_time[1]
    assert backlog == one_at_a_time

    # a worker behind its input: batches that close an hour for some regions and the next
    # hour for others, kept back and judged at snapshots and when they span a day
    runs.clear()
    waiting.clear()
    ordered = sorted(aggregates, key=lambda a: (a.hour, a.region))
    batches = [ordered[i : i + 5] for i in range(0, len(ordered), 5)]
    kept_back = judged(live_pipeline(f"sqlite:///{tmp_path / 'c.db'}"), batches, behind=True)
    assert runs and max(runs) > 1  # hours went in runs, not one tick each
    assert any(mixed)  # an hour some regions had not closed yet is judged in the same run
    assert kept_back == one_at_a_time
    assert max(waiting) > 1  # hours waited, and were counted while they did
