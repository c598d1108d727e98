"""The REST API's shared machinery: Bearer keys and scopes, the contract's envelope, errors,
keyset pagination, per-key rate limits and Idempotency-Key. Endpoints live in each app's api.py."""
