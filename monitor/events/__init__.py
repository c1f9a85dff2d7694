"""Events in: the wire schemas, parsing raw bytes into events, and dead letters for the rest."""
