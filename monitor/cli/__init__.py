"""The ``yujing`` command line, one module per command group (see ``main``)."""

from __future__ import annotations

from monitor.cli.main import app, main

__all__ = ["app", "main"]
