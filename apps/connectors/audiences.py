"""What a write mode means for an audience (an ads platform's user list, an email list).

Audiences list the modes ``add``, ``remove`` and ``mirror``. The engine passes ``add`` and
``remove`` as they are and runs ``mirror`` as ``upsert`` (rows still in the query) plus ``delete``
(rows that left it): for a list those are an addition and a removal too.
"""

from __future__ import annotations

from typing import Literal

from apps.connectors.base import ConnectorError, ErrorCode

AUDIENCE_OBJECT_MODES: tuple[str, ...] = ("add", "remove", "mirror")
_ACTIONS: dict[str, Literal["add", "remove"]] = {
    "add": "add",
    "upsert": "add",
    "remove": "remove",
    "delete": "remove",
}


def audience_action(mode: str, audience: str) -> Literal["add", "remove"]:
    """``add`` or ``remove`` for a write ``mode``; a ConnectorError names the supported modes."""
    action = _ACTIONS.get(mode)
    if action is None:
        raise ConnectorError(
            f"Mode '{mode}' is not supported by {audience}; supported: {', '.join(AUDIENCE_OBJECT_MODES)}",
            code=ErrorCode.DESTINATION_REJECTED,
            status=400,
        )
    return action
