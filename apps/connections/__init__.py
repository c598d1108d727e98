"""Warehouse and destination connections (config + encrypted secrets) and saved models."""
