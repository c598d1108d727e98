"""Workspaces, their members and roles, and API keys."""
