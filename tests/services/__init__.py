"""tests.services."""
