"""The catalog: one object per customer-file custom audience, one field per Meta key.

Audiences are read from the ad account's ``customaudiences`` edge
(https://developers.facebook.com/docs/marketing-api/reference/ad-account/customaudiences/), page
by page with cursor paging (https://developers.facebook.com/docs/graph-api/results): the next page
is asked for with ``after=<paging.cursors.after>`` on our own URL while ``paging.next`` says there
is one. We never follow ``paging.next`` itself: it is an absolute URL from the response, and the
token must only ever go to the configured API root.

Only audiences of subtype ``CUSTOM`` (customer lists) take users from the /users edge; website,
app, engagement and lookalike audiences are left out.

Field names are Meta's schema keys in lower case (``email``, ``phone``, ``fn``, …, ``extern_id``),
plus ``dob``, a date split into DOBY/DOBM/DOBD. All are typed ``string`` except ``dob``: Meta's
values may arrive already hashed (64 hex digits), which the engine's email/phone checks would
refuse; the connector validates each key by Meta's own rules instead (see ``identifiers``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from apps.connectors.audiences import AUDIENCE_OBJECT_MODES
from apps.connectors.base import FieldSpec, ObjectSpec
from apps.connectors.destinations.meta_ads.keys import DOB_FIELD, KEYS

AUDIENCE_MODES_SUPPORTED = AUDIENCE_OBJECT_MODES
AUDIENCE_FIELDS = "id,name,subtype,operation_status"
PAGE_SIZE = 100
MAX_PAGES = 1_000  # 100,000 audiences: far beyond any account; stops a server that pages forever

FIELDS: tuple[FieldSpec, ...] = (
    *(
        FieldSpec(
            name=key.field,
            label=f"{key.label} ({key.schema})",
            type="string",
            identifier=key.identifier,
        )
        for key in KEYS
    ),
    FieldSpec(name=DOB_FIELD, label="Date of birth (DOBY + DOBM + DOBD)", type="date"),
)


def audience_object(audience: dict[str, Any]) -> ObjectSpec:
    name = str(audience.get("name") or audience["id"])
    status = audience.get("operation_status")
    # 471: flagged by Meta's audience restrictions; writes fail until it is resolved.
    if isinstance(status, dict) and status.get("code") == 471:
        name += " (flagged by Meta: resolve the restrictions before syncing)"
    return ObjectSpec(
        name=str(audience["id"]),
        label=name,
        supported_modes=AUDIENCE_MODES_SUPPORTED,
        custom=True,
    )


def iter_audiences(get: Callable[[dict[str, Any]], Any]) -> Iterator[dict[str, Any]]:
    """Every audience of the account, following cursor paging; ``get(params)`` fetches one page."""
    params: dict[str, Any] = {"fields": AUDIENCE_FIELDS, "limit": PAGE_SIZE}
    for _page in range(MAX_PAGES):
        page = get(params) or {}
        for audience in page.get("data") or ():
            if isinstance(audience, dict) and audience.get("id"):
                yield audience
        paging = page.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        if not paging.get("next") or not after:
            return
        params = {**params, "after": after}


def custom_audiences(get: Callable[[dict[str, Any]], Any]) -> list[ObjectSpec]:
    return [audience_object(a) for a in iter_audiences(get) if a.get("subtype", "CUSTOM") == "CUSTOM"]
