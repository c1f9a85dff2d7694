"""The detectors' memory and their tick: series per metric (``store``), hourly files for
replays (``hourly_file``), and judging closed hours with every configured spec (``tick``)."""
