"""API key scopes, as the contract names them."""

ALL = "*"
SCOPES: tuple[str, ...] = (
    "syncs:read",
    "syncs:write",
    "syncs:run",
    "destinations:read",
    "dlq:read",
    "dlq:write",
    "connections:write",
)


def validate_scopes(scopes: list[str]) -> list[str]:
    """Return the scopes deduplicated in canonical order, or raise ValueError naming the bad ones."""
    unknown = [s for s in scopes if s != ALL and s not in SCOPES]
    if unknown:
        raise ValueError(
            f"Unknown scope(s): {', '.join(unknown)}. Valid scopes: {', '.join((ALL, *SCOPES))}."
        )
    if ALL in scopes:
        return [ALL]
    return [s for s in SCOPES if s in scopes]


def grants(held: list[str], needed: str) -> bool:
    return ALL in held or needed in held
