"""From findings to people: the alert policy, tickets with SLA clocks, and notifications.

Stages, each importing only the ones after it: ``policy`` (incidents, cooldowns, the
service) -> ``tickets`` (models, lifecycle, store, API) -> ``notify`` (settings, outbox,
channels) -> ``database``; ``findings`` and ``taxonomy`` are the vocabulary all share.
"""
