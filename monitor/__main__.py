"""``python -m monitor``: the yujing command line."""

from monitor.cli import app

app()
