"""Python's cycle collector, set for a long-running stream process.

Measured on the Faust worker (docs/benchmarks.md): with the interpreter's defaults a
young-generation pass runs every 700 allocations, and every few of them a full pass walks
every object the process holds (Faust, aiokafka, SQLAlchemy, the window state); about a
quarter of the worker's time on single-sample records went there. Events, bundles and
aggregates are plain data that rarely form cycles, so passes can be rarer: the garbage
they leave waits at most ``YOUNG_THRESHOLD`` allocations. What was loaded at start-up is
frozen out of the full passes (``gc.freeze``): it lives as long as the process.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000  # allocations between young passes (interpreter default: 700)
OLDER_THRESHOLD = 20  # passes of a generation before the next one is collected (default 10)


def tune_for_streaming() -> None:
    """Call once, after start-up's imports and set-up and before the stream flows."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
