"""Telling on-call: notification settings, the transactional outbox and its channels."""
