"""The audit log: who (user or API key) did what to which sync or DLQ entry, and when."""
