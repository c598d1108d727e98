"""Sync runs: history, metrics, progress, the run pages and API."""
