"""Processor wiring: the log port and its SQLite implementation, the embedded runtime, ingest."""
