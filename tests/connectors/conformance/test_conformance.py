"""The conformance suite every registered destination passes, each against its vendor fake.

It checks what the engine and the API rely on, whatever the vendor: secrets marked and kept out
of the public config, a catalog of well-formed objects and fields, ``check`` telling good from bad
credentials, one outcome per record in order (partial success is normal), errors classified with
the contract's codes (429 retryable, 401 auth_failed), no secret in any log line or message, the
vendor's documentation cited, and the API's objects/fields endpoints answering for it.
"""

from __future__ import annotations

import inspect
import logging
import sys
from typing import Any

import orjson
import pytest

from apps.accounts.services import api_key_create
from apps.connections.services import connection_create
from apps.connectors.base import (
    AUDIENCE_MODES,
    FIELD_TYPES,
    WRITE_MODES,
    ConnectorError,
    Destination,
    ErrorCode,
    OutgoingBatch,
)
from apps.connectors.registry import all_connectors, destination_class, parse_config
from tests.api.clients import client_for
from tests.connectors.conformance.harness import ConformanceCase, cases

CASES = sorted(cases(), key=lambda c: c.connector_type)
ERROR_CODES = {code.value for code in ErrorCode}
KNOWN_MODES = set(WRITE_MODES) | set(AUDIENCE_MODES)
# The sandbox is in-process (no vendor API, no secrets required); it has its own tests.
EXEMPT = {"sandbox"}


@pytest.fixture(autouse=True)
def private_destinations_allowed(settings):
    settings.SYNCLINE_ALLOW_PRIVATE_DESTINATIONS = True


@pytest.fixture(params=CASES, ids=str)
def case(request) -> ConformanceCase:
    return request.param


@pytest.fixture
def fake(case):
    with case.fake() as running:
        yield running


def make(case: ConformanceCase, config: dict[str, Any]) -> Destination:
    return destination_class(case.connector_type)(parse_config("destination", case.connector_type, config))


def secret_values(case: ConformanceCase, fake: Any) -> list[str]:
    parsed = parse_config("destination", case.connector_type, case.config(fake))
    secrets = list(parsed.split()[1].values())
    bad = parse_config("destination", case.connector_type, case.bad_credentials(fake))
    return [s for s in secrets + list(bad.split()[1].values()) if s]


def batch_with_rejection(case: ConformanceCase) -> tuple[OutgoingBatch, int]:
    records = list(case.records)
    middle = len(records) // 2
    records.insert(middle, case.rejected_record)
    return OutgoingBatch.of(records), middle


def test_every_registered_destination_has_a_case():
    registered = {i.type for i in all_connectors() if i.role == "destination"} - EXEMPT
    assert registered <= {c.connector_type for c in CASES}


def test_secrets_are_marked_and_kept_out_of_the_public_config(case, fake):
    parsed = parse_config("destination", case.connector_type, case.config(fake))
    public, secrets = parsed.split()
    assert secrets, "a connector with credentials marks them as secret fields"
    dumped = orjson.dumps(public)
    for value in secrets.values():
        assert value.encode() not in dumped
    # The stored halves merge back into the same config.
    merged = parse_config("destination", case.connector_type, {**public, **secrets})
    assert merged.split() == (public, secrets)


def test_docstring_cites_the_vendor_documentation(case):
    cls = destination_class(case.connector_type)
    text = (inspect.getdoc(cls) or "") + (sys.modules[cls.__module__].__doc__ or "")
    assert "https://" in text, f"{cls.__name__} cites no documentation"


def test_catalog_shapes(case, fake):
    destination = make(case, case.config(fake))
    objects = destination.list_objects()
    assert objects
    for obj in objects:
        assert obj.name and obj.label
        assert obj.supported_modes and set(obj.supported_modes) <= KNOWN_MODES, obj
    obj = destination.get_object(case.object_name)
    assert obj is not None and case.mode in obj.supported_modes
    fields = destination.list_fields(case.object_name)
    if case.freeform:
        assert obj.freeform_fields
        return
    assert fields, "a typed catalog lists the object's fields"
    names = [f.name for f in fields]
    assert len(names) == len(set(names)), "field names are unique"
    for spec in fields:
        assert spec.type in FIELD_TYPES, spec
        if spec.type == "enum":
            assert spec.enum_values, f"{spec.name} is an enum without values"
        assert spec.max_length is None or spec.max_length > 0
    by_name = {f.name: f for f in fields}
    if case.match_key is not None:
        assert by_name[case.match_key].identifier, f"{case.match_key} is not usable as a match key"
    for name in {k for r in case.records for k in r}:
        assert name in by_name, f"the case writes {name}, which the catalog does not list"


def test_check_tells_good_from_bad_credentials(case, fake):
    good = make(case, case.config(fake)).check()
    assert good.ok, good.message
    bad = make(case, case.bad_credentials(fake)).check()
    assert not bad.ok and bad.message


def test_one_outcome_per_record_in_order(case, fake):
    destination = make(case, case.config(fake))
    batch, rejected_at = batch_with_rejection(case)
    result = destination.write(case.object_name, case.mode, batch, match_key=case.match_key)
    assert [o.index for o in result.outcomes] == list(range(len(batch)))
    assert [o.ok for o in result.outcomes] == [i != rejected_at for i in range(len(batch))]
    failure = result.outcomes[rejected_at]
    assert failure.error_code in ERROR_CODES and failure.message
    assert not failure.retryable
    assert result.requests >= 1


def test_rate_limit_is_retryable_and_defaults_are_adjustable(case, fake):
    destination = make(case, case.config(fake))
    rate, burst = destination.rate_limit()
    assert rate is None or (rate > 0 and burst >= 1)
    case.throttle(fake)
    with pytest.raises(ConnectorError) as raised:
        destination.write(
            case.object_name, case.mode, OutgoingBatch.of(case.records), match_key=case.match_key
        )
    assert raised.value.code == ErrorCode.RATE_LIMITED and raised.value.retryable
    # The vendor's own status is kept (Salesforce says 403, Meta 400 for their rate limits).
    assert raised.value.status is not None and raised.value.status >= 400
    adjusted = make(case, {**case.config(fake), "rate_limit_per_second": 2.5})
    assert adjusted.rate_limit()[0] == 2.5


def test_bad_credentials_fail_the_request_as_auth_failed(case, fake):
    destination = make(case, case.bad_credentials(fake))
    with pytest.raises(ConnectorError) as raised:
        destination.write(
            case.object_name, case.mode, OutgoingBatch.of(case.records), match_key=case.match_key
        )
    assert raised.value.code in (ErrorCode.AUTH_FAILED, ErrorCode.PERMISSION_DENIED)
    assert not raised.value.retryable and raised.value.message


def test_secrets_never_logged_nor_in_messages(case, fake, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = secret_values(case, fake)
    texts: list[str] = []
    good = make(case, case.config(fake))
    bad = make(case, case.bad_credentials(fake))
    texts.append(good.check().message)
    texts.append(bad.check().message)
    batch, _ = batch_with_rejection(case)
    result = good.write(case.object_name, case.mode, batch, match_key=case.match_key)
    texts += [o.message or "" for o in result.outcomes]

    def failure_text(destination: Destination) -> str:
        with pytest.raises(ConnectorError) as raised:
            destination.write(
                case.object_name, case.mode, OutgoingBatch.of(case.records), match_key=case.match_key
            )
        return f"{raised.value.message}\n{raised.value}"

    texts.append(failure_text(bad))  # refused credentials
    case.throttle(fake)
    texts.append(failure_text(good))  # the vendor's rate-limit answer
    texts += [r.getMessage() for r in caplog.records]
    joined = "\n".join(texts)
    for secret in secrets:
        assert secret not in joined, f"a secret of {case.connector_type} leaked"


@pytest.mark.django_db
def test_api_objects_and_fields_answer(case, fake, workspace):
    connection = connection_create(
        workspace=workspace,
        role="destination",
        connector_type=case.connector_type,
        name=f"{case.connector_type} conformance",
        config=case.config(fake),
    )
    api = client_for(api_key_create(workspace=workspace, name="ci", scopes=["*"]).raw_key)
    base = "/api/reverse-etl"
    objects = api.get(f"{base}/objects", {"destination_id": connection.pk})
    assert objects.status_code == 200, objects.content
    listed = {o["name"]: o for o in objects.json()["data"]}
    expected = {o.name for o in make(case, case.config(fake)).list_objects()}
    assert set(listed) == expected
    fields = api.get(f"{base}/fields", {"destination_id": connection.pk, "object": case.object_name})
    assert fields.status_code == 200, fields.content
    names = {f["name"] for f in fields.json()["data"]}
    if not case.freeform:
        assert {k for r in case.records for k in r} <= names
    for secret in secret_values(case, fake):
        assert secret.encode() not in objects.content + fields.content
