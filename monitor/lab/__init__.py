"""The lab: simulated worlds (events or hourly), backtests, scorecards, plots, producing files
into Kafka. Everything an engineer uses to tune a config before it goes live."""
