"""The demo workspace: users, a DuckDB demo warehouse and the offline sandbox destination."""
