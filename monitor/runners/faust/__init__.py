"""monitor.runners.faust."""
