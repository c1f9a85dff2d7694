"""alerts.policy.incidents."""
