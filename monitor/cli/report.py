"""``yujing report``: the monthly review the NOC manager opens."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import DbOpt, command_group, err, open_store, point_to

app = command_group(help="Reports for the monthly review.")


@app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option(help="YYYY-MM, in the operator's zone.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="The HTML page (default: var/review-MONTH.html).")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    regions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Regions watched (false alarms per region-week); default: those with a ticket.",
        ),
    ] = None,
    db: DbOpt = None,
) -> None:
    """SLA compliance, recurring problems and alert quality of a month, as one page."""
    import time

    import orjson

    from alerts.tickets.review import review_of
    from monitor.cli.tickets import operator_config
    from monitor.reports.monthly import render

    config = operator_config()
    store = open_store(db, must_exist=True)
    try:
        review = review_of(store, month, config.zone, int(time.time() * 1000), regions)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    if json:
        sys.stdout.write(orjson.dumps(review, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    path = out_file or Path("var") / f"review-{month}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render(review, f"Yujing monthly review {month}", config.zone)
    path.write_text(page, encoding="utf-8")
    point_to(f"monthly review of {month} ({review['tickets']} tickets)", str(path))
