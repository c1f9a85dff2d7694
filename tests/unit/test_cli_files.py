"""What the command line says of files and databases it cannot use: a line naming them."""

import subprocess
import sys

from alerts.tickets.store import TicketStore


def test_an_out_path_that_cannot_be_written_is_named_not_a_traceback(tmp_path):
    """Every command that writes a file ended in a traceback when it could not."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    TicketStore(url).close()
    (tmp_path / "a-file").write_text("not a directory")
    page = tmp_path / "a-file" / "review.html"
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "report", "monthly", "--month", "2026-10",
         "--db", url, "--out", str(page)],
        capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    said = f"{tmp_path / 'a-file'}: exists and is not a directory"
    assert done.stderr.strip() == said, done.stderr


def test_labels_and_a_database_that_cannot_serve_are_said_before_the_replay(tmp_path):
    """``run --labels`` read its file after the replay and ended in a JSONDecodeError
    traceback; an unreachable PostgreSQL or a dialect without its driver (mysql://) in
    SQLAlchemy's."""
    from typer.testing import CliRunner

    from monitor.cli.main import app

    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"type": "region", "region": "r1", "subscribers": 1000}\n')
    (tmp_path / "labels.json").write_text("{not json")
    db = f"sqlite:///{tmp_path / 't.db'}"
    for args, said in (
        (["--db", db, "--labels", str(tmp_path / "labels.json")], "labels: "),
        (["--db", "mysql://someone@localhost/x"], "no driver (MySQLdb)"),
        (["--db", "postgresql://someone@127.0.0.1:1/x"], "cannot open the ticket database"),
    ):
        done = CliRunner().invoke(app, ["run", str(events), "--out", str(tmp_path), *args])
        assert done.exit_code == 2 and said in " ".join(done.stderr.split()), done.output
    assert not (tmp_path / "t.db").exists()  # refused before anything was made


def test_a_grafana_that_cannot_take_the_dashboards_is_said_in_a_line():
    """``dashboards push`` to a wrong URL or with a bad token ended in a traceback (or, for
    a refused connection, in four lines of urllib3)."""
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from typer.testing import CliRunner

    from monitor.cli.main import app

    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"message": "invalid API key"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    try:
        for url, said in (
            (f"http://127.0.0.1:{server.server_port}", "401"),
            (f"http://127.0.0.1:{closed}", "Connection refused"),
        ):
            done = CliRunner().invoke(app, ["dashboards", "push", "--url", url, "--token", "x"])
            line = " ".join(done.stderr.split())
            assert done.exit_code == 2, done.output
            assert line.startswith(f"cannot push to Grafana at {url}: ") and said in line, line
    finally:
        server.shutdown()


def test_a_ticket_database_that_fails_mid_command_is_said_in_a_line(tmp_path):
    """Another process holds the write lock past SQLite's 30 s wait: acknowledging a
    ticket ended in two screens of SQLAlchemy's traceback."""
    from tests.domain import T0, database_locked, finding

    url = f"sqlite:///{tmp_path / 't.db'}"
    store = TicketStore(url)
    ticket, _ = store.open("k1", "fp1", finding(T0), T0)
    store.close()
    with database_locked(url):
        done = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "tickets", "ack", str(ticket.id),
             "--as", "li.wei", "--db", url],
            capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""},
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == "ticket database: database is locked", done.stderr


def test_a_file_given_where_another_kind_goes_is_named_for_what_it_is(tmp_path):
    """The hourly file given to ``--data`` was replayed as 206 ``malformed_json`` dead
    letters; events given to ``--hourly`` got numpy's advice to load them "unsafely"
    with pickle; a spreadsheet given to ``import csv`` had no column in its "header"."""
    import doctest

    import numpy as np
    from typer.testing import CliRunner

    import monitor.events.file_magic
    from monitor.cli.main import app

    assert doctest.testmod(monitor.events.file_magic).failed == 0
    hourly = tmp_path / "hourly.npz"
    np.savez(hourly, regions=np.asarray(["r1"]), first_hour=np.int64(0))
    events = tmp_path / "events.jsonl"
    events.write_bytes(b'{"type": "region", "region": "r1", "subscribers": 1000}\n')
    sheet = tmp_path / "export.xlsx"
    sheet.write_bytes(hourly.read_bytes())  # a spreadsheet is a zip archive too
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(b"\x1f\x8b\x08\x00" + bytes(40))
    runner = CliRunner()
    for args, said in (
        (["backtest", "--data", str(hourly)], "the hourly file goes to `yujing backtest --hourly`"),
        (["run", str(packed)], "gzip-compressed (decompress it first"),
        (["backtest", "--hourly", str(events)], "JSON (events are replayed with --data)"),
        (["import", "csv", str(sheet), "-o", str(tmp_path / "o.jsonl"), "--kind", "complaints",
          "--time", "t", "--region", "r", "--category", "c"],
         "not a CSV export (save a sheet as CSV)"),
    ):  # fmt: skip
        done = runner.invoke(app, args, env={"COLUMNS": "300"})
        assert done.exit_code == 2, (args, done.output)
        told = "".join(done.output.split())  # (the console's width may wrap it anywhere)
        assert "".join(said.split()) in told, (args, done.output)
        assert "malformed_json" not in told and "pickle" not in told
