"""Alert fingerprints: one identity per (region, metric, detector), stable across runs.

Stable means: the same inputs give the same fingerprint in every process and every
runner, so a restarted worker or a second worker recognises an incident it did not open.
"""

from __future__ import annotations

import hashlib


def fingerprint(region: str, metric: str, detector: str) -> str:
    digest = hashlib.sha256(f"{region}\x1f{metric}\x1f{detector}".encode()).hexdigest()
    return digest[:16]


def ticket_key(fingerprint_: str, first_hour: int) -> str:
    """Deterministic ticket identity: replaying the same hour cannot open a second ticket."""
    return f"{fingerprint_}-{first_hour // 1000}"
