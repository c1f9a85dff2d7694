"""How a number reads in a finding's explanation, a ticket and a notification.

On-call reads these at 3 a.m.: ``f"{x:.3g}"`` wrote 1,412 complaints as "1.41e+03" and a
region's 30,812 an hour as "3.08e+04". One rule for every detector and message: three
significant digits, and whole numbers with thousands separators from 100 up.

>>> [number(v) for v in (0.2364, 7, 12.5, 1412, 30812.4, -250.0)]
['0.236', '7', '12.5', '1,412', '30,812', '-250']
"""

from __future__ import annotations

import math

WHOLE_FROM = 100  # from here up a number is shown whole: "123", not "123.4"


def number(value: float) -> str:
    """``value`` as a person reads it (NaN and infinities as Python writes them)."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= WHOLE_FROM else f"{value:.3g}"
