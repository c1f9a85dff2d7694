"""A region that falls silent on every input, on a live Faust worker: its hours close as
far as the stream has come (empty), so the drop detector can see the silence. Before, its
last hour stayed open until the region spoke again, and nothing after it was judged."""

from __future__ import annotations

from importlib import resources

import pytest

from detectors.timeaxis import HOUR_MS, from_iso, to_iso
from tests.helpers import complaint, kpi, region
from tests.kafka_harness import final_hours, wait_until

pytestmark = pytest.mark.kafka

T0 = from_iso("2026-10-05T08:00:00Z")
MINUTE = 60_000


def lines_of(name: str, minutes: range) -> list[bytes]:
    out = []
    for m in minutes:
        at = to_iso(T0 + m * MINUTE)
        out += [complaint(at, region=name, id_=f"{name}-{m}"), kpi(at, 1.0, region=name)]
    return out


def test_a_region_silent_on_every_input_still_has_its_hours_closed(scenario, tmp_path):
    config = tmp_path / "idle.yaml"
    text = resources.files("monitor.config").joinpath("default_config.yaml").read_text("utf-8")
    anchor = "  watermark_delay_minutes: 0\n"
    assert anchor in text
    config.write_text(text.replace(anchor, anchor + "  idle_input_seconds: 2\n"))
    # both regions speak until 09:20; then only north, until 12:10
    quiet, north = lines_of("quiet", range(0, 90, 10)), lines_of("north", range(0, 260, 10))
    scenario.produce([region("north"), region("quiet"), *quiet, *north])
    worker = scenario.start_worker("w1", YUJING_CONFIG=str(config))

    def quiet_hours() -> dict[int, int]:
        hours = final_hours(scenario.hourly())
        return {hour: agg.total for (name, hour), agg in hours.items() if name == "quiet"}

    # quiet's own watermark (09:20) closes its 08:00 hour; the silence closes 09:00, 10:00
    # and 11:00 too, by the stream (12:10)
    wait_until(
        lambda: T0 + 3 * HOUR_MS in quiet_hours(),
        120,
        "quiet's 11:00 hour",
        explain=lambda: f"quiet's hours: {quiet_hours()}\n{worker.log.read_text()[-3000:]}",
    )
    assert quiet_hours() == {T0: 6, T0 + HOUR_MS: 3, T0 + 2 * HOUR_MS: 0, T0 + 3 * HOUR_MS: 0}

    # a worker started after quiet fell silent holds it from the windows table: north's
    # next hours move the stream, and quiet's close with them though it never speaks
    scenario.kill(worker)
    scenario.produce(lines_of("north", range(260, 380, 10)))  # to 14:10
    worker = scenario.start_worker("w2", YUJING_CONFIG=str(config))
    wait_until(
        lambda: T0 + 5 * HOUR_MS in quiet_hours(),
        120,
        "quiet's 13:00 hour from the second worker",
        explain=lambda: f"quiet's hours: {quiet_hours()}\n{worker.log.read_text()[-3000:]}",
    )
    assert [quiet_hours()[T0 + h * HOUR_MS] for h in range(6)] == [6, 3, 0, 0, 0, 0]
