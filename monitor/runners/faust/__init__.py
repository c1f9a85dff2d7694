"""The Faust worker, one concern per module (see ``app``)."""
