"""Ticket life cycle as a pure transition table: who may do what, from which state.

open -> acknowledged -> in_progress -> resolved -> closed, and reopened (back to open).
The first person to acknowledge owns the ticket until it closes (first-responder
ownership): only the owner moves it forward; anyone may comment. A refused move is an
error value with the reason, which the API turns into 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from alerts.outcomes import outcome_problem
from alerts.tickets.text import actor_problem, comment_problem


class TicketState(StrEnum):
    """Where a ticket is in its life; ACTIVE_STATES hold the fingerprint."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


ACTIVE_STATES = (TicketState.OPEN, TicketState.ACKNOWLEDGED, TicketState.IN_PROGRESS)
# a ticket holds its fingerprint (unique) exactly while it is active: one active ticket
# per series, enforced by the database (a CHECK constraint, migration 0003)
_ACTIVE_SQL = ", ".join(f"'{state.value}'" for state in ACTIVE_STATES)
ACTIVE_FINGERPRINT_RULE = (
    f"(state IN ({_ACTIVE_SQL}) AND active_fingerprint IS NOT NULL) "
    f"OR (state NOT IN ({_ACTIVE_SQL}) AND active_fingerprint IS NULL)"
)


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    COMMENT = "comment"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


S = TicketState
MOVES: dict[Action, tuple[frozenset[TicketState], TicketState | None]] = {
    Action.ACKNOWLEDGE: (frozenset({S.OPEN}), S.ACKNOWLEDGED),
    Action.START: (frozenset({S.ACKNOWLEDGED}), S.IN_PROGRESS),
    Action.COMMENT: (frozenset({S.OPEN, S.ACKNOWLEDGED, S.IN_PROGRESS, S.RESOLVED}), None),
    Action.RESOLVE: (frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}), S.RESOLVED),
    Action.CLOSE: (frozenset({S.RESOLVED}), S.CLOSED),
    Action.REOPEN: (frozenset({S.RESOLVED, S.CLOSED}), S.OPEN),
}
OWNER_ONLY = frozenset({Action.START, Action.RESOLVE, Action.CLOSE})


@dataclass(frozen=True, slots=True)
class Refused:
    """A transition that is not allowed, and why (HTTP 409 in the API)."""

    action: Action
    state: str
    reason: str


@dataclass(frozen=True, slots=True)
class Move:
    action: Action
    from_state: TicketState
    to_state: TicketState
    owner: str | None


def decide(
    action: Action,
    state: str,
    owner: str | None,
    actor: str,
    outcome: str | None = None,
    cause: str | None = None,
    comment: str = "",
) -> Move | Refused:
    """Pure: may ``actor`` do ``action`` on a ticket in ``state`` owned by ``owner``? A
    resolution says what the ticket turned out to be (``outcome``, a fault's ``cause``);
    a comment says something (the owner's first one stops the 24-hour feedback clock)."""
    wrong = actor_problem(actor) or comment_problem(comment)
    if wrong is not None:
        return Refused(action, state, wrong)
    allowed, target = MOVES[action]
    current = TicketState(state)
    if current not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        return Refused(
            action, state, f"cannot {action.value} a ticket that is {state} (allowed from: {names})"
        )
    if action is Action.COMMENT and not comment.strip():
        return Refused(action, state, "a comment needs text: what was done or found")
    if action is Action.ACKNOWLEDGE:
        return Move(action, current, S.ACKNOWLEDGED, actor)  # the first responder owns it
    if action in OWNER_ONLY and owner is not None and actor != owner:
        return Refused(
            action,
            state,
            f"{owner} owns this ticket (first responder); "
            f"{actor} may comment but not {action.value}",
        )
    if action is Action.RESOLVE:
        problem = outcome_problem(outcome, cause)
        if problem is not None:
            return Refused(action, state, problem)
    new_owner = None if action is Action.REOPEN else owner
    return Move(action, current, target or current, new_owner)
