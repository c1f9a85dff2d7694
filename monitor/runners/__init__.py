"""Runners drive the one ``Pipeline``: embedded (files, demo, backtest, tests) and Faust (Kafka),
plus the ticket API server. Only runners import Faust."""
