"""Shared building blocks with no domain logic: ids, encrypted fields, errors."""
