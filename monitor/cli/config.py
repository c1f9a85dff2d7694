"""``yujing config``: check configs before a worker loads them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import command_group

app = command_group(help="Check monitor configurations; start one from the default.")


@app.command("validate")
def config_validate(
    files: Annotated[list[Path], typer.Argument(help="YAML config files to check.")],
) -> None:
    """Check configs; print every problem as FILE:LINE: FIELD: MESSAGE; exit 1 if any."""
    from monitor.config.checks import ConfigError
    from monitor.config.load import load_config
    from monitor.config.model import NO_DETECTORS

    failed = False
    for path in files:
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            failed = True
            for message in exc.messages:
                sys.stdout.write(message + "\n")  # one line each, never wrapped
            continue
        sys.stdout.write(
            f"{path}: ok ({len(cfg.detectors)} detector specs, "
            f"{len(cfg.metrics_needed())} metrics, {len(cfg.mutes)} mutes)\n"
        )
        if not cfg.detectors:
            sys.stdout.write(f"{path}: note: {NO_DETECTORS}\n")
    if failed:
        raise typer.Exit(1)


@app.command("default")
def config_default() -> None:
    """Print the default config, comments and all, to start yours from.

    `yujing config default > my.yaml`, edit it, `yujing config validate my.yaml`: a
    file's `detectors:` list is the whole list, so a tuned config is a copy."""
    from monitor.config.load import default_config_text

    sys.stdout.write(default_config_text())
