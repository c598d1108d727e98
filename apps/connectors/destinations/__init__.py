"""Destination connectors (SaaS tools, ad platforms, HTTP endpoints)."""
