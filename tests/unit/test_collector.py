"""A streaming process collects cycles rarely and leaves what start-up loaded alone."""

import gc

from monitor.runners.collector import YOUNG_THRESHOLD, tune_for_streaming


def test_tuning_freezes_start_up_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        tune_for_streaming()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD > before[0]
        assert gc.get_freeze_count() > 0  # start-up's objects left out of full passes
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
