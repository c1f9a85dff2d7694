"""How much noisier than Poisson a count series is: the quasi-Poisson dispersion.

Complaint counts from one simulator are Poisson; real counts (mentions, crashes, calls)
vary many times more, and a Poisson test on them finds "significant" rises every week.
Dividing counts by the dispersion phi before a Poisson test is the quasi-Poisson remedy.

phi is measured on the series itself, week over week: for Poisson counts x and y with the
same rate, (x - y)^2 / (x + y) averages 1. Each hour's term is capped, so a burst counts as
one loud hour, not as a noisier series; phi is at least 1 (never more sensitive than
Poisson). Cumulative sums: one column or a year cost alike, and a column's phi depends on
that column's own past only.
"""

from __future__ import annotations

import numpy as np

from detectors.base import pad_left, rolling_sums
from detectors.timeaxis import WEEK_HOURS

CAP = 50.0  # one hour's term at most: bounded influence of a burst
MAX_PHI = 25.0


def weekly_dispersion(values: np.ndarray, ends: int, hours: int = WEEK_HOURS) -> np.ndarray:
    """phi over the ``hours`` hours ending at each of the last ``ends`` columns: [rows, ends]."""
    values = pad_left(values, hours + WEEK_HOURS + ends - 1)
    now, before = values[:, WEEK_HOURS:], values[:, :-WEEK_HOURS]
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.minimum((now - before) ** 2 / np.maximum(now + before, 1.0), CAP)
    known = np.isfinite(term)
    total = rolling_sums(np.where(known, term, 0.0), hours, ends)
    seen = rolling_sums(known, hours, ends)
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(seen >= 24, total / seen, 1.0)
    return np.clip(phi, 1.0, MAX_PHI)
