"""The catalog: one object per Customer Match (CRM-based) user list of the customer.

Lists are read with GAQL through ``GoogleAdsService.Search`` (``POST /vNN/customers/{id}/googleAds:search``,
pages of up to 10,000 rows linked by ``nextPageToken``;
https://developers.google.com/google-ads/api/rest/reference/rest/v26/customers.googleAds/search,
https://developers.google.com/google-ads/api/fields/v26/user_list). A list's fields follow its
``crm_based_user_list.upload_key_type``, fixed when the list is created
(https://developers.google.com/google-ads/api/reference/rpc/v26/CustomerMatchUploadKeyTypeEnum.CustomerMatchUploadKeyType):
contact info (email, phone, mailing address), CRM IDs, or mobile advertising IDs. An object's name
is the list's numeric ID (stable across renames); its label is the list's name.

Email and phone are plain ``string`` fields on purpose: they also take values the warehouse already
hashed (64 hex digits), which the engine's email/phone syntax checks would refuse. The connector
validates them itself, as Google documents them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from apps.connectors.audiences import AUDIENCE_OBJECT_MODES
from apps.connectors.base import FieldSpec, ObjectSpec
from apps.connectors.destinations.google_ads.identifiers import (
    CONTACT_INFO,
    CRM_ID,
    FIELDS_BY_KEY_TYPE,
    MOBILE_ADVERTISING_ID,
)

MODES = AUDIENCE_OBJECT_MODES
USER_LISTS_QUERY = (
    "SELECT user_list.id, user_list.name, user_list.type, user_list.crm_based_user_list.upload_key_type "
    "FROM user_list WHERE user_list.type = 'CRM_BASED'"
)

_FIELDS: dict[str, FieldSpec] = {
    "email": FieldSpec("email", "Email (plain or SHA-256)", "string", identifier=True, max_length=320),
    "phone": FieldSpec("phone", "Phone (E.164 or national; plain or SHA-256)", "string", identifier=True),
    "first_name": FieldSpec("first_name", "First name (address match)", "string"),
    "last_name": FieldSpec("last_name", "Last name (address match)", "string"),
    "country_code": FieldSpec(
        "country_code", "Country code, ISO 3166-1 (address match)", "string", max_length=2
    ),
    "postal_code": FieldSpec("postal_code", "Postal code (address match)", "string", max_length=32),
    "third_party_user_id": FieldSpec("third_party_user_id", "CRM ID", "string", identifier=True),
    "mobile_id": FieldSpec("mobile_id", "Mobile advertising ID (IDFA / AAID)", "string", identifier=True),
}


@dataclass(frozen=True)
class UserList:
    id: str
    name: str
    resource_name: str
    upload_key_type: str

    @property
    def spec(self) -> ObjectSpec:
        return ObjectSpec(name=self.id, label=self.name or f"User list {self.id}", supported_modes=MODES)

    @property
    def fields(self) -> list[FieldSpec]:
        return [_FIELDS[name] for name in FIELDS_BY_KEY_TYPE[self.upload_key_type]]

    @property
    def identifier_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.identifier]


def key_type(value: Any) -> str:
    """The list's upload key type; lists created without one take contact info, Google's default."""
    return value if value in (CONTACT_INFO, CRM_ID, MOBILE_ADVERTISING_ID) else CONTACT_INFO


def parse_rows(rows: Iterator[dict[str, Any]]) -> list[UserList]:
    lists = []
    for row in rows:
        item = row.get("userList") if isinstance(row, dict) else None
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            continue
        crm = item.get("crmBasedUserList") if isinstance(item.get("crmBasedUserList"), dict) else {}
        lists.append(
            UserList(
                id=str(item["id"]),
                name=str(item.get("name") or ""),
                resource_name=str(item.get("resourceName") or ""),
                upload_key_type=key_type(crm.get("uploadKeyType")),
            )
        )
    return sorted(lists, key=lambda ul: (ul.name.lower(), ul.id))


def search(post: Callable[[dict[str, Any]], Any], query: str) -> Iterator[dict[str, Any]]:
    """Every row of a GAQL query, following ``nextPageToken``."""
    body: dict[str, Any] = {"query": query}
    while True:
        page = post(body) or {}
        yield from page.get("results") or ()
        token = page.get("nextPageToken")
        if not token:
            return
        body = {"query": query, "pageToken": token}
