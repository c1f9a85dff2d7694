"""What a person reads first: ``yujing --help`` and each command's help, at 80 columns."""

import inspect
import io
import re
from pathlib import Path

import click
import typer.main

from monitor.cli.main import app


def _commands(group: click.Command, path: tuple[str, ...] = ()):
    for name, command in getattr(group, "commands", {}).items():
        yield (*path, name), command
        yield from _commands(command, (*path, name))


def test_every_command_is_listed_with_one_sentence():
    """A listing shows a command's first paragraph with its line breaks kept: a docstring
    whose summary ran over two lines was listed cut in the middle of a sentence."""
    ragged = {
        " ".join(path): inspect.cleandoc(command.help or "").split("\n\n")[0]
        for path, command in _commands(typer.main.get_command(app))
    }
    ragged = {path: summary for path, summary in ragged.items() if "\n" in summary or not summary}
    assert ragged == {}


def test_a_command_to_copy_is_never_broken(monkeypatch):
    """The demo pointed at its tickets with a command that wrapped at 80 columns: pasted,
    it ran as two lines."""
    from rich.console import Console

    from monitor.cli import common

    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(common, "err", console)
    db = "var/some/long/place/of/the/operator/with/more/folders/to/it/tickets.db"
    command = f"yujing tickets list --db sqlite:///{db}"
    common.point_to(f"tickets kept in {db}", command)
    lines = console.export_text().splitlines()
    assert lines == [f"tickets kept in {db}:", f"  {command}"]


def test_a_path_to_open_is_never_broken(tmp_path, monkeypatch):
    """The monthly review named its page in a sentence, and the console folded the path at
    80 columns mid-word ("review.h" / "tml"): copied, it named no file."""
    from typer.testing import CliRunner

    from alerts.tickets.store import TicketStore

    url = f"sqlite:///{tmp_path / 't.db'}"
    TicketStore(url).close()
    deep = tmp_path.joinpath(*["a-folder-with-a-long-name"] * 3)
    page = deep / "review-2027-01.html"
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()
    made = runner.invoke(
        app, ["report", "monthly", "--month", "2027-01", "--db", url, "--out", str(page)]
    )
    assert made.exit_code == 0, made.output
    assert f"  {page}" in made.stderr.splitlines(), made.stderr
    built = runner.invoke(app, ["dashboards", "build", "--out", str(deep)])
    assert built.exit_code == 0, built.output
    written = [line.removeprefix("wrote ") for line in built.stdout.splitlines()]
    assert written and all((deep / Path(w).name) == Path(w) for w in written), built.stdout


def test_every_help_page_reads_whole_at_80_columns(monkeypatch):
    """At 80 columns ``yujing api --help`` left each option's help ~20 columns and cut
    what did not fit ("(default: $YUJING_API_TOKE…"), and a listing cut a command's
    summary ("Write a deterministic simulated history with labelled...")."""
    from typer.testing import CliRunner

    monkeypatch.setenv("COLUMNS", "80")
    root = typer.main.get_command(app)
    for path, command in [((), root), *_commands(root)]:
        page = CliRunner().invoke(app, [*path, "--help"]).output
        lines = page.splitlines()
        assert max(len(line) for line in lines) <= 80, (path, page)
        assert "…" not in page and not any(
            line.endswith("...") for line in lines if not line.startswith("Usage:")
        ), (path, page)
        words = " ".join(page.split())
        for name, sub in getattr(command, "commands", {}).items():
            summary = inspect.cleandoc(sub.help or "").split("\n\n")[0]
            assert f"{name} {' '.join(summary.split())}" in words, (path, name, page)
        for param in command.params:
            if param.param_type_name == "option":  # each says what it is (not a bare
                assert param.help, (path, param.name)  # "[default: 50; 1<=x<=5000]")
                # and a flag is one word: "[default: no-embedded]" broke at its hyphen
                assert not param.secondary_opts, (path, param.name)
            for env in re.findall(r"\$[A-Z_]+", getattr(param, "help", None) or ""):
                assert env in words, (path, param.name, page)


def test_the_ticket_filters_name_every_value():
    """``tickets list --help`` offered "open, acknowledged, ..." (the help is written out,
    so that ``yujing --help`` imports none of the ticket modules)."""
    from alerts.findings import Severity
    from alerts.taxonomy import Department
    from alerts.tickets.lifecycle import TicketState

    command = typer.main.get_command(app).commands["tickets"].commands["list"]
    said = {param.name: param.help for param in command.params}
    for name, values in (
        ("state", TicketState),
        ("department", Department),
        ("severity", Severity),
    ):
        assert all(value.value in said[name] for value in values), (name, said[name])
