"""Hourly tumbling windows per region in event time: watermarks, lateness, corrections."""
