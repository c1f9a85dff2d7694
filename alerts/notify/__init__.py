"""alerts.policy.notifiers."""
