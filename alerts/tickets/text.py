"""What people write on a ticket (who they are, what they say), and how it is shown back.

A comment or a name is printed on an on-call's terminal (`yujing tickets show`), in a
mail and in chat. An escape sequence in it (ESC, a C1 control) is an instruction to the
terminal: it clears the screen, sets the window title, hides the text after it. So such
characters are refused where text comes in, from the API and the command line alike,
and any that an older version stored are shown as visible escapes, never sent raw.
"""

from __future__ import annotations

import re

MAX_COMMENT = 4000  # characters of a comment or a resolution's note
MAX_ACTOR = 64  # characters of a person's name in the audit trail
# C0 controls but tab and line feed, DEL, and the C1 controls; a name takes no line
# break or tab either
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def comment_problem(comment: str) -> str | None:
    """Why a comment cannot be kept as written, or None. A line break is text; a
    carriage return alone could make a line read as another one."""
    if len(comment) > MAX_COMMENT:
        return f"a comment is at most {MAX_COMMENT:,} characters (this one has {len(comment):,})"
    return _control("a comment", comment.replace("\r\n", "\n"), CONTROL)


def actor_problem(actor: str) -> str | None:
    """Why a name cannot stand in the audit trail, or None."""
    if not actor.strip():
        return "who acts needs a name"
    if len(actor) > MAX_ACTOR:
        return f"a name is at most {MAX_ACTOR} characters"
    return _control("a name", actor, NAME_CONTROL)


def _control(what: str, text: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.search(text)
    if found is None:
        return None
    return (
        f"{what} cannot hold control characters (U+{ord(found.group()):04X} at "
        f"character {found.start() + 1}): write it as plain text"
    )


def printable(text: str) -> str:
    """``text`` safe for a terminal: each control character but line breaks and tabs as
    a visible escape (ESC as ``\\x1b``)."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r\n", "\n"))
