"""The alert policy: fingerprints, incidents and cooldowns over event time, and the service
that applies its actions to the ticket store."""
