"""What every command shares: consoles, common options, loading a config or a store.

Command modules import only typer and the standard library at import time; each command
imports what it uses when it runs, so ``yujing --help`` stays fast.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.progress import Progress

    from alerts.tickets.store import TicketStore
    from alerts.tickets.view import TicketView
    from monitor.config.model import MonitorConfig
    from monitor.runners.file_order import FileOrder

err = Console(stderr=True)
out = Console()
# a line that names a path or a command is printed whole: the console folds a long word
# at its width (80 columns when not on a terminal), and a path folded there was copied as
# two ("review.h" and "tml"); the terminal still wraps it for the eye, and copies it whole
WHOLE: dict[str, bool] = {"soft_wrap": True, "markup": False, "highlight": False}
DEFAULT_DB = "sqlite:///var/yujing.db"


class Listing(TyperGroup):
    """Lists each command by its whole first sentence, wrapped: click cut one at ~60
    characters ("Write a deterministic simulated history with labelled...")."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
                rows.append((name, " ".join(summary.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_group(**settings: Any) -> typer.Typer:
    """A group of commands, its help in click's layout: the rich one's four columns left
    an option's help ~20 of 80 columns and cut what did not fit ("$YUJING_API_TOKE…")."""
    return typer.Typer(cls=Listing, no_args_is_help=True, rich_markup_mode=None, **settings)


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Monitor config YAML (default: the packaged default_config.yaml)."
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Ticket database URL (default: $YUJING_DATABASE_URL or sqlite:///var/yujing.db).",
    ),
]
BootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        "-b",
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP or 127.0.0.1:9092).",
    ),
]
PrefixOpt = Annotated[
    str | None,
    typer.Option("--prefix", help="Topic name prefix (default: $YUJING_TOPIC_PREFIX or yujing)."),
]
ActorOpt = Annotated[str, typer.Option("--as", help="Who acts (recorded in the audit trail).")]


def point_to(what: str, command: str) -> None:
    """Tell a person what a run left and the command that opens it, the command on a line
    of its own and never broken by the console (a command wrapped at 80 columns pasted
    as two lines)."""
    err.print(f"{what}:", **WHOLE)  # (what a run left may be named by its path too)
    err.print(f"  {command}", **WHOLE)


def read_in_order(path: Path, done: str | None = None) -> FileOrder:
    """The order to replay an events file in; a person is told when it is not its lines'
    (``done``: what is done with it instead, when not a replay)."""
    from monitor.events.file_magic import ZIP, file_head, looks_like
    from monitor.runners.file_order import REPLAYED, scan

    head = file_head(path)
    kind = looks_like(head)
    if kind is not None:  # (it was replayed: a dead letter per "line" of bytes)
        hint = (
            "; the hourly file goes to `yujing backtest --hourly`" if head.startswith(ZIP) else ""
        )
        err.print(f"{path}: {kind}, not events (JSON lines){hint}", markup=False, highlight=False)
        raise typer.Exit(2)
    order = scan(path)
    if order.disorder is not None:
        told = order.disorder.describe(path.name, done or REPLAYED)
        err.print(told, markup=False, highlight=False)
    return order


def load_or_exit(path: Path | None, *, to_run: bool = False) -> MonitorConfig:
    """The config, or exit 2 with every problem on its own line. ``to_run``: it is about to
    run here, so the secrets its channels name must be here too."""
    from monitor.config.checks import ConfigError
    from monitor.config.load import load_config
    from monitor.config.model import NO_DETECTORS
    from monitor.config.reload import usable

    try:
        config = load_config(path)
        if to_run:
            usable(config, str(path or "default_config.yaml"))
            if not config.detectors:
                err.print(f"{path}: {NO_DETECTORS}", markup=False, highlight=False)
        return config
    except ConfigError as exc:
        err.print(f"[red]config rejected[/red] {exc.source}")
        for message in exc.messages:
            err.print(f"  {message}", markup=False, highlight=False)
        raise typer.Exit(2) from exc


DEMO_DB = "sqlite:///var/demo/tickets.db"  # where `yujing demo` (make demo) keeps its tickets


def open_store(db: str | None, must_exist: bool = False) -> TicketStore:
    """The ticket store at ``db`` (or $YUJING_DATABASE_URL), or exit 2 with the reason.

    ``must_exist``: a command that reads tickets says where it looked instead of showing
    an empty list from a database it just created."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    from alerts.database import SchemaOutdated
    from alerts.tickets.store import TicketStore

    url = db or os.environ.get("YUJING_DATABASE_URL", DEFAULT_DB)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if must_exist and path is not None and not Path(path).exists():
        demo = DEMO_DB.removeprefix("sqlite:///")
        hint = f"; the demo's tickets: --db {DEMO_DB}" if Path(demo).exists() else ""
        err.print(f"no ticket database at {path} (--db or $YUJING_DATABASE_URL){hint}", **WHOLE)
        raise typer.Exit(2)
    try:
        return TicketStore(url)
    except SchemaOutdated as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    except ArgumentError as exc:  # (an unknown dialect too: foo://)
        err.print(f"not a database URL: {url!r} (e.g. sqlite:///tickets.db)", markup=False)
        raise typer.Exit(2) from exc
    except ModuleNotFoundError as exc:  # mysql://: a dialect whose driver is not installed
        err.print(
            f"cannot open the ticket database {url!r}: no driver ({exc.name}); Yujing "
            "keeps tickets in sqlite:/// or postgresql://",
            markup=False,
        )
        raise typer.Exit(2) from exc
    except OperationalError as exc:  # unreachable, refused login, TLS that does not verify
        reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
        err.print(f"cannot open the ticket database: {reason}", markup=False)
        raise typer.Exit(2) from exc


def labels_or_exit(path: Path | None) -> tuple[list[Any], list[Any]]:
    """The labelled events and known false alarms of ``path`` (none without one), or
    exit 2 saying why: read before a replay, not after it."""
    from monitor.lab.labels import LabelsError, read_labels

    try:
        return read_labels(path) if path is not None else ([], [])
    except LabelsError as exc:
        err.print(f"labels: {exc}", markup=False)
        raise typer.Exit(2) from exc


def ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////:memory"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def progress(
    label: str,
    *,
    unit: str | None = None,
    in_bytes: bool = False,
    transient: bool = True,
    disable: bool = False,
) -> Progress:
    """A progress bar on stderr (stdout stays clean for tables and JSON); with ``unit``, a
    count of units for a total not known in advance; ``in_bytes``: a file read, its size
    as "2.1/265.8 MB" (an import's bar read "265,771/265,771", as if rows)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    count: ProgressColumn = (
        DownloadColumn()
        if in_bytes
        else TextColumn(
            f"{{task.completed:,}} {unit}" if unit else "{task.completed:,}/{task.total:,}"
        )
    )
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        console=err,
        transient=transient,
        disable=disable,
    )


# the space between a number and a short unit that ends its phrase ("72.3 %)", "12 ms,"):
# a line never breaks there (a capacity ticket's site line ended "72.3" / "%")
UNIT_GAP = re.compile(r"(?<=\d) (?=\S{1,4}(?:[,;)]|$))")
GLUE = "\ue000"  # stands for that space while the line is cut into words (private use)


def hanging(line: str, width: int, hang: int) -> str:
    """``line`` wrapped to ``width`` terminal cells, its next lines indented by ``hang``: a
    ticket's field value under the value (12), an audit row's under its time (6), an
    import's example under its text. The terminal's own wrap put a long explanation's next
    lines in column 0, under the field names. Counted in cells, not characters: a comment
    or a column name in Chinese takes two cells a character (textwrap counts one)."""
    from rich.cells import cell_len, get_character_cell_size

    width = max(width, hang + 20)
    indent = " " * hang
    lines: list[str] = []
    current, gap = "", ""  # the line being filled; the spaces before the next word
    for i, token in enumerate(re.split(r"(\s+)", UNIT_GAP.sub(GLUE, line))):
        if i % 2:  # whitespace, each character a space (as textwrap replaces it)
            gap = " " * len(token)
            continue
        if not token:
            continue
        if current and cell_len(current + gap + token) <= width:
            current, gap = current + gap + token, ""
            continue
        if current:
            lines.append(current)
        start = indent if lines else gap  # the first line keeps its own leading spaces
        rest = token
        while cell_len(start + rest) > width:  # a word wider than the line: cut it
            room, cut = width - cell_len(start), 0
            while cut < len(rest) and room >= get_character_cell_size(rest[cut]):
                room -= get_character_cell_size(rest[cut])
                cut += 1
            cut = max(cut, 1)  # at least one character a line, however wide
            lines.append(start + rest[:cut])
            rest, start = rest[cut:], indent
        current, gap = start + rest, ""
    if current:
        lines.append(current)
    return "\n".join(lines).replace(GLUE, " ")


def listed(names: Sequence[str], most: int = 20) -> str:
    """Names for a person to read: the first ``most``, then how many more ("a, b and 980
    more"); a labels file of thousands of series printed every one."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])} and {len(names) - most:,} more"


def counted(n: int, thing: str, things: str | None = None) -> str:
    """``n`` and its noun, singular or plural: "1 finding", "204 findings" (not
    "204 finding(s)")."""
    return f"{n:,} {thing if n == 1 else things or thing + 's'}"


def ticket_head(t: TicketView) -> list[str]:
    """A ticket's first two lines wherever tickets are listed as blocks (the demo's report,
    ``tickets list``): number, where, how bad and whose; then what and which detector."""
    return [f"#{t.id}  {t.region}  {t.severity}  {t.department}", f"    {t.metric} ({t.detector})"]


def dead_letter_counts(dead: Mapping[str, int]) -> str:
    """Dead letters by reason, "unknown_region=2, late=1"; "none" without any."""
    return ", ".join(f"{k}={v:,}" for k, v in sorted(dead.items())) or "none"


def dead_letter_examples(dead: Mapping[str, int], first_said: Mapping[str, str]) -> list[str]:
    """What the first dead letter of each reason said (why, and what to do: "send its
    region record first"): the counts alone did not say it."""
    return [f"  e.g. {k}: {first_said[k]}" for k in sorted(dead) if k in first_said]
