"""Source connectors (warehouses and lakehouses)."""
