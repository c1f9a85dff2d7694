import pytest

from monitor.config.checks import ConfigError
from monitor.config.load import load_config, parse_config


def test_packaged_default_config_is_valid():
    config = load_config()
    assert {s.id for s in config.detectors} >= {"complaints-wow", "billing-dispute-spike"}
    assert config.windows.allowed_lateness_minutes == 120


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("detectors: [{id: a, detector: nope, metrics: [complaints.total]}]", "unknown detector"),
        ("detectors: [{id: a, detector: wow, metrics: [complaints.lunar]}]", "unknown metric"),
        (
            "detectors: [{id: a, detector: wow, metrics: [complaints.total], params: {rise: -1}}]",
            "rise",
        ),
        (
            "detectors: [{id: a, detector: wow, metrics: [complaints.total], params: {ris: 1}}]",
            "ris",
        ),
        ("windows: {allowed_lateness_minutes: soon}", "allowed_lateness_minutes"),
        (
            "detectors: [{id: a, detector: wow, metrics: [complaints.total]},"
            " {id: a, detector: threshold, metrics: [complaints.total], params: {threshold: 1}}]",
            "duplicate detector id",
        ),
        ("detectors: [oops", "not valid YAML"),
    ],
)
def test_bad_configs_are_rejected_with_the_field(text, needle):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "bad.yaml")
    assert info.value.source == "bad.yaml"
    assert needle in str(info.value)
