"""Reports people open: the monthly review."""
