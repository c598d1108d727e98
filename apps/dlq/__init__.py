"""The dead letter queue: failed records, their triage, resolution and replay."""
