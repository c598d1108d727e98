"""Syncs: definitions, services, the scheduler tick, the mapping wizard and the API."""
