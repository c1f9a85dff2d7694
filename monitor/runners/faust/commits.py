"""A commit the broker refused is retried at the next commit, not taken as done.

Faust (faust-streaming 0.15) takes acked offsets off its ack list when it builds a commit,
then records them as committed whether or not the broker took them
(``Consumer._commit_offsets`` updates ``_committed_offset`` after its driver's ``_commit``
returned False). aiokafka's driver returns False, silently, when a commit raced a
rebalance ("already rebalanced"). Nothing then commits those offsets again until a later
record is acked: a worker that went quiet keeps a lag it does not have, for good, and a
restart re-reads records whose effect a snapshot holds (skipped, but read). Seen as an
``events`` group 13-23 records behind for minutes after every hour was final, in the
SIGKILL test (``tests/services/test_kafka_pipeline.py``).

What a refused commit held was acked by a snapshot, so its effect is durable: committing
it later is always right while the worker owns the partition. The offsets go back to
Faust's bookkeeping, and its commit timer sends them again. Private attributes, as in
``app.fetch_promptly``: a Faust without them keeps its own behaviour (False).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import faust
from faust.types import tuples as faust_tuples

log = logging.getLogger("yujing.faust")
BOOKS = ("_acked", "_acked_index", "_committed_offset")  # Faust's ack bookkeeping


def retry_refused_commits(app: faust.App) -> bool:
    """Wrap the started consumer's commit so a refused one is retried; idempotent. False
    when this Faust's consumer lacks what the wrapper needs."""
    consumer = app.consumer
    commit = getattr(consumer, "_commit_offsets", None)
    if getattr(commit, "retries_refused", False):
        return True
    if commit is None or not all(
        isinstance(getattr(consumer, book, None), MutableMapping) for book in BOOKS
    ):
        return False
    consumer._commit_offsets = retrying(consumer, commit)  # type: ignore[attr-defined]
    return True


def retrying(
    consumer: Any, commit: Callable[..., Awaitable[bool]]
) -> Callable[..., Awaitable[bool]]:
    async def commit_offsets(offsets: Mapping[Any, int], *args: Any, **kwargs: Any) -> bool:
        done = await commit(offsets, *args, **kwargs)
        if not done:
            give_back(consumer, offsets)
        return done

    commit_offsets.retries_refused = True  # type: ignore[attr-defined]
    return commit_offsets


def give_back(consumer: Any, offsets: Mapping[Any, int]) -> None:
    """Make the next commit send ``offsets`` again, for the partitions still owned (a
    revoked one's next owner starts from what the broker holds).

    Faust commits the first run of consecutive acked offsets that starts at most one above
    what it believes committed: the belief goes back to just below the refused offset
    (acks below it stay ignored, as they were), and the offset before it is acked again."""
    assigned = consumer.assignment()
    kept = {tp: offset for tp, offset in offsets.items() if tp in assigned}
    if not kept:
        return
    with _ack_lock():
        for tp, offset in kept.items():
            consumer._committed_offset[tp] = offset - 1
            index = consumer._acked_index[tp]
            if offset - 1 not in index:
                index.add(offset - 1)
                consumer._acked[tp].append(offset - 1)
    log.warning(
        "commit refused by the broker; retried at the next commit",
        extra={"fields": {"offsets": {f"{tp.topic}:{tp.partition}": o for tp, o in kept.items()}}},
    )


def _ack_lock() -> contextlib.AbstractContextManager[Any]:
    """The lock Faust's ``ack`` takes, where this Faust has one (acks may come from
    threads); no await happens under it."""
    lock = getattr(faust_tuples, "ack_lock", None)
    return lock if lock is not None else contextlib.nullcontext()
