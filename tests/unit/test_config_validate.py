"""`yujing config validate`: every problem names its file, line and field."""

import subprocess
import sys
import textwrap

import pytest

from monitor.config.checks import ConfigError
from monitor.config.load import parse_config
from tests.helpers import T0, complaint

BASE = """\
region_groups:
  metro: [region-001, region-002]
  coast: [region-002, region-003]
detectors:
  - id: broadband-wow
    detector: {detector}
    metrics:
      - complaints.broadband_lag
      - {metric}
    params:
      rise: {rise}
      min_volume: {volume}
    overrides:
      - regions: ["@metro"]
        params: {{min_volume: 100}}
      - regions: {second}
        params: {{min_volume: 30}}
"""
GOOD = {
    "detector": "wow",
    "metric": "complaints.weak_signal",
    "rise": 0.2,
    "volume": 60,
    "second": "[region-009]",
}


def problems(**changes):
    text = BASE.format(**{**GOOD, **changes})
    with pytest.raises(ConfigError) as info:
        parse_config(text, "detectors.yaml")
    return info.value.messages


def test_the_base_config_is_valid():
    config = parse_config(BASE.format(**GOOD), "detectors.yaml")
    assert config.expand(["@metro", "region-009"]) == {"region-001", "region-002", "region-009"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"detector": "crystal_ball"},
            "detectors.yaml:6: detectors[0].detector: unknown detector 'crystal_ball'",
        ),
        (
            {"metric": "complaints.lunar"},
            "detectors.yaml:9: detectors[0].metrics[1]: unknown metric 'complaints.lunar'",
        ),
        (
            {"volume": "plenty"},
            "detectors.yaml:12: detectors[0].params.min_volume: Input should be a valid number",
        ),
        (
            {"rise": -0.5},
            "detectors.yaml:11: detectors[0].params.rise: Input should be greater than 0",
        ),
        (
            {"second": '["@coast"]'},
            "detectors.yaml:16: detectors[0].overrides[1].regions: overlaps override 0 on region "
            "'region-002'",
        ),
        (
            {"second": '["@nowhere"]'},
            "detectors.yaml:16: detectors[0].overrides[1].regions[0]: "
            "unknown region group 'nowhere'",
        ),
    ],
)
def test_each_problem_names_line_and_field(changes, expected):
    messages = problems(**changes)
    assert any(m.startswith(expected) for m in messages), messages


@pytest.mark.parametrize(
    ("changes", "suggested"),
    [
        ({"detector": "wwo"}, "did you mean 'wow'?"),
        ({"metric": "complaints.weak_signall"}, "did you mean 'complaints.weak_signal'?"),
        ({"metric": "kpi.latency.maen"}, "did you mean 'kpi.latency.mean'?"),
    ],
)
def test_a_typo_is_told_the_name_it_missed(changes, suggested):
    assert any(m.endswith(suggested) for m in problems(**changes))


def test_no_name_is_suggested_for_one_far_from_any():
    assert not any("did you mean" in m for m in problems(metric="complaints.lunar"))


def test_an_override_out_of_range_is_located_in_the_override():
    text = BASE.format(**GOOD).replace("{min_volume: 30}", "{min_volume: -3}")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "d.yaml")
    assert info.value.messages == [
        "d.yaml:17: detectors[0].overrides[1].params.min_volume: "
        "Input should be greater than or equal to 0"
    ]


def test_every_problem_is_reported_not_just_the_first():
    messages = problems(metric="complaints.lunar", detector="crystal_ball")
    assert len(messages) >= 2


def test_yaml_syntax_errors_have_a_line():
    with pytest.raises(ConfigError) as info:
        parse_config("detectors:\n  - id: a\n    metrics: [oops\n", "broken.yaml")
    assert info.value.messages[0].startswith("broken.yaml:")
    assert "not valid YAML" in info.value.messages[0]


def test_same_detector_twice_on_a_metric_is_rejected():
    text = textwrap.dedent("""\
        detectors:
          - {id: a, detector: wow, metrics: [complaints.total]}
          - {id: b, detector: wow, metrics: [complaints.weak_signal, complaints.total]}
        """)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "dup.yaml")
    assert info.value.messages[0].startswith("dup.yaml:3: detectors[1].metrics[1]:")


def test_mutes_need_ordered_times_with_offsets():
    text = textwrap.dedent("""\
        mutes:
          - regions: [region-001]
            start: 2026-10-20T00:00:00+08:00
            end: 2026-10-19T00:00:00+08:00
            reason: planned work
        """)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "m.yaml")
    assert "end must be after start" in info.value.messages[0]
    assert info.value.messages[0].startswith("m.yaml:2: mutes[0]")


def test_cli_validate_exits_non_zero_and_prints_locations(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.format(**{**GOOD, "rise": -1}))
    good = tmp_path / "good.yaml"
    good.write_text(BASE.format(**GOOD))
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "config", "validate", str(good), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"{good}: ok" in done.stdout
    assert f"{bad}:11: detectors[0].params.rise:" in done.stdout
    assert "note" not in done.stdout


def test_a_config_without_detector_specs_is_told_it_judges_nothing(tmp_path):
    """Every section a file leaves out takes Yujing's defaults, but ``detectors`` is the
    file's whole list: a config written to change the windows alone judged nothing, and
    `config validate` and `backtest` said "ok" and "0 tickets" with no word why."""
    from typer.testing import CliRunner

    from monitor.cli.main import app
    from monitor.config.model import NO_DETECTORS

    windows = tmp_path / "windows.yaml"
    windows.write_text("windows: {inputs: [complaint]}\n")
    said = CliRunner().invoke(app, ["config", "validate", str(windows)])
    assert said.exit_code == 0
    assert f"{windows}: note: {NO_DETECTORS}" in said.stdout
    events = tmp_path / "events.jsonl"
    events.write_bytes(complaint(T0) + b"\n")
    said = CliRunner().invoke(app, ["backtest", "--data", str(events), "-c", str(windows)])
    assert said.exit_code == 0, said.output
    assert f"windows: {NO_DETECTORS}" in " ".join(said.output.split())


def test_a_tuned_config_starts_from_a_copy_of_the_default(tmp_path):
    """Changing one parameter meant copying every spec by hand (a file's ``detectors:`` is
    the whole list), from a file inside the installed package."""
    from typer.testing import CliRunner

    from monitor.cli.main import app
    from monitor.config.load import load_config

    printed = CliRunner().invoke(app, ["config", "default"])
    assert printed.exit_code == 0
    assert printed.stdout.startswith("# Yujing default monitor configuration")  # comments kept
    mine = tmp_path / "my.yaml"
    mine.write_text(printed.stdout.replace("{k: 8, min_change: 0.5}", "{k: 7, min_change: 0.5}"))
    default, tuned = load_config(), load_config(mine)
    assert [s.id for s in tuned.detectors] == [s.id for s in default.detectors]
    (bursts,) = [s for s in tuned.detectors if s.id == "complaint-bursts"]
    assert bursts.params["k"] == 7


NOTIFY = """\
notifications:
  channels:
    oncall:
      type: webhook
      url: http://127.0.0.1:9/hook
      unsigned: true
    mail:
      type: email
      host: smtp.noc.example
      sender: yujing@noc.example
      to: []
  routes:
    - channels: [oncall, pager]
      severity: [major]
    - channels: [oncall]
      events: [opened, exploded]
"""


def test_notification_problems_name_line_and_field():
    with pytest.raises(ConfigError) as info:
        parse_config(NOTIFY, "detectors.yaml")
    messages = "\n".join(info.value.messages)
    assert "detectors.yaml:11: notifications.channels.mail.email.to:" in messages
    assert "detectors.yaml:16: notifications.routes[1].events:" in messages
    assert "exploded" in messages


def test_a_route_to_an_undefined_channel_is_refused():
    text = NOTIFY.replace("      to: []", "      to: [oncall@noc.example]").replace(
        ", exploded", ""
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "detectors.yaml")
    [message] = info.value.messages
    assert message.startswith("detectors.yaml:13: notifications.routes[0].channels[1]:")
    assert "'pager'" in message


def test_the_zone_is_an_offset_or_a_name_and_a_typo_is_told():
    assert parse_config('timezone: "+05:30"\n', "z.yaml").zone.utcoffset(None).seconds == 19800
    assert str(parse_config("timezone: Asia/Shanghai\n", "z.yaml").zone) == "Asia/Shanghai"
    with pytest.raises(ConfigError) as info:
        parse_config("timezone: Asia/Shanghia\n", "z.yaml")
    assert info.value.messages[0].startswith("z.yaml:1: timezone:")
    assert "unknown time zone 'Asia/Shanghia'" in info.value.messages[0]


def test_the_evening_peak_follows_a_named_zone_through_daylight_saving():
    """Berlin: 20:00-22:00 local is 18:00-20:00 UTC in summer, 19:00-21:00 in winter."""
    import numpy as np

    from monitor.detection.store import SeriesStore
    from monitor.detection.tick import scan
    from monitor.windows.aggregation import CATEGORIES, HourlyAggregate
    from tests.domain import HOUR

    config = parse_config(
        "timezone: Europe/Berlin\n"
        "detectors:\n"
        "  - {id: peak, detector: peak_congestion, metrics: [complaints.broadband_lag],\n"
        "     params: {utilisation_metric: kpi.bandwidth_utilisation.max,\n"
        "              min_peak_share: 0}}\n",  # only when it is judged, here
        "z.yaml",
    )

    for day, peak_close_utc in (("2026-07-01", 19), ("2026-12-01", 20)):
        first = int(np.datetime64(f"{day}T00:00", "ms").astype(np.int64))
        store = SeriesStore(config.metrics_needed(), history_hours=48)
        for h in range(24):
            kpi = {"bandwidth_utilisation": (4, 95.0, 95.0, 95.0)}
            complaints = (1,) * len(CATEGORIES)
            store.update(HourlyAggregate("r1", first + h * HOUR, 0, None, complaints, kpi))
        fired = [r.hour for r in scan(config, store, first, first + 23 * HOUR) if r.findings]
        assert fired == [first + peak_close_utc * HOUR], day


def test_messages_carry_the_configs_zone():
    assert parse_config("timezone: Asia/Shanghai\n", "z.yaml").notifications.timezone == (
        "Asia/Shanghai"
    )
