"""``yujing dashboards``: Grafana dashboards as code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import WHOLE, command_group, err, out

app = command_group(help="Grafana dashboards as code.")
DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "json"


def tickets_url() -> str:
    """Where the ticket panels link: the operator's config (``$YUJING_CONFIG``, else the
    packaged default), as the messages' links are."""
    from monitor.cli.tickets import operator_config

    return operator_config().notifications.links.tickets


@app.command("build")
def dashboards_build(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = DASHBOARD_DIR,
    check: Annotated[
        bool, typer.Option("--check", help="Only check that the files are up to date.")
    ] = False,
) -> None:
    """Write the dashboards' JSON (committed next to Grafana's provisioning files)."""
    from dashboards.build import build_all, render, write_all

    url = tickets_url()
    if check:
        stale = [
            name
            for name, model in build_all(url).items()
            if not (out_dir / f"{name}.json").exists()
            or (out_dir / f"{name}.json").read_bytes() != render(model)
        ]
        if stale:
            err.print(f"out of date: {', '.join(stale)}; run `yujing dashboards build`")
            raise typer.Exit(1)
        out.print("dashboards are up to date")
        return
    for path in write_all(out_dir, url):
        out.print(f"wrote {path}", **WHOLE)


@app.command("push")
def dashboards_push(
    url: Annotated[str, typer.Option(help="Grafana base URL, e.g. http://localhost:3000")],
    token: Annotated[
        str, typer.Option(envvar="GRAFANA_TOKEN", help="Service account token ($GRAFANA_TOKEN).")
    ],
    folder: Annotated[str, typer.Option(help="Folder title (created if missing).")] = "Yujing",
) -> None:
    """Upload the dashboards into a folder; running it again updates them in place."""
    from grafana_client.client import GrafanaException

    from dashboards.build import build_all
    from dashboards.push import push

    try:  # (a traceback, before; the HTTP client's errors are OSErrors)
        pushed = push(url, token, folder, build_all(tickets_url()))
    except (GrafanaException, OSError) as exc:
        reason, status = why(exc), getattr(exc, "status_code", None)
        if status and str(status) not in reason:  # Grafana's answer: "401 Unauthorized"
            reason = f"{status} {reason}"
        err.print(f"cannot push to Grafana at {url}: {reason}", markup=False)
        raise typer.Exit(2) from exc
    for name, uid, version in pushed:
        out.print(f"{name}: uid {uid}, version {version}")


def why(exc: BaseException) -> str:
    """The innermost reason a request failed: "Connection refused" (the HTTP client's own
    message is four lines of urllib3), or the Grafana client's first line."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
