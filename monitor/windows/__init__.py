"""detectors.timeaxis."""
