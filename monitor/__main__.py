"""``python -m monitor``: the yujing command line."""

from monitor.cli.main import main

main()
