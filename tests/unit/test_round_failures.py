"""How long a worker waits after rounds that failed half-way (monitor/runners/faust)."""

from monitor.runners.faust.failures import MAX_WAIT_S, Failures


def test_the_wait_doubles_with_each_failure_in_a_row_up_to_a_minute_and_a_success_resets_it():
    failures = Failures()
    assert failures.waiting(now=0.0) == 0.0  # nothing failed: run now
    assert [failures.failed(now=0.0) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert failures.waiting(now=15.0) == MAX_WAIT_S - 15.0
    assert failures.waiting(now=MAX_WAIT_S) == 0.0
    for _ in range(5000):  # a night-long outage: no overflow, still a minute
        failures.failed(now=0.0)
    assert failures.waiting(now=0.0) == MAX_WAIT_S
    failures.succeeded()
    assert failures.failed(now=100.0) == 1.0 and failures.waiting(now=100.5) == 0.5
