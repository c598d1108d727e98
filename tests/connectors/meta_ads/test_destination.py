"""The Meta Custom Audiences connector against the fake Marketing API: config, check, catalog,
adds, removes, upload sessions, per-record outcomes and error classification."""

from __future__ import annotations

import hashlib
import logging

import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from apps.connectors.destinations.meta_ads.errors import MetaApiError
from apps.connectors.registry import ConfigError, parse_config
from tests.connectors.meta_ads.conftest import ACCOUNT, AUDIENCE, config_for
from tests.fakes.meta_ads import TOKEN


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def people(count: int, start: int = 0) -> list[dict]:
    numbers = range(start, start + count)
    return [{"email": f"p{i}@example.com", "fn": f"Pat{i}", "country": "us"} for i in numbers]


def emails(fake, audience: str = AUDIENCE) -> set[str]:
    return fake.member_values(audience, "EMAIL")


class NoServer:
    """Config tests need a base URL, not a running fake."""

    url = "http://127.0.0.1:9"


# --- config ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["act_1234567890", "1234567890", " ACT_1234567890 ", 1234567890])
def test_ad_account_id_is_normalised_to_digits(value):
    config = parse_config("destination", "meta_ads", config_for(NoServer, ad_account_id=value))
    assert config.ad_account_id == ACCOUNT and config.account_path == f"act_{ACCOUNT}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ad_account_id", "act_"),
        ("ad_account_id", "acme"),
        ("api_version", "23"),
        ("rows_per_request", 10_001),
        ("rows_per_request", 0),
        ("base_url", "ftp://graph.example.com"),
    ],
)
def test_bad_config_is_refused(field, value):
    with pytest.raises(ConfigError) as raised:
        parse_config("destination", "meta_ads", config_for(NoServer, **{field: value}))
    assert field in raised.value.details


def test_secrets_stay_out_of_the_public_config():
    config = parse_config("destination", "meta_ads", config_for(NoServer, app_secret="shh-app-secret"))
    public, secrets = config.split()
    assert secrets == {"access_token": TOKEN, "app_secret": "shh-app-secret"}
    assert "access_token" not in public and "app_secret" not in public
    assert public["api_version"] == "v23.0" and public["rows_per_request"] == 10_000


# --- check ----------------------------------------------------------------------------------------
def test_check_names_the_ad_account(make):
    result = make().check()
    assert result.ok and "Acme Ads" in result.message and f"act_{ACCOUNT}" in result.message


def test_check_explains_a_refused_token(make):
    result = make(access_token="EAAB-expired").check()
    assert not result.ok and "access token" in result.message and "code 190" in result.message
    assert "EAAB-expired" not in result.message


def test_check_explains_missing_permissions(make, fake):
    fake.account_error = fake.error(200, "(#200) Requires ads_management permission to manage the object")
    result = make().check()
    assert not result.ok and "may not manage ad account" in result.message
    assert "Requires ads_management permission" in result.message


def test_check_explains_an_unknown_ad_account(make):
    result = make(ad_account_id="act_999").check()
    assert not result.ok and "act_999 does not exist" in result.message


def test_check_of_a_closed_account_fails(make, fake):
    fake.account_status = 101
    result = make().check()
    assert not result.ok and "closed" in result.message


def test_appsecret_proof_is_signed_and_checked(fake, make):
    fake.app_secret = "the-app-secret"
    assert make(app_secret="the-app-secret").check().ok
    wrong = make(app_secret="another-secret").check()
    assert not wrong.ok and "appsecret_proof" in wrong.message
    assert "missing" not in wrong.message and "another-secret" not in wrong.message
    assert not make().check().ok  # the app requires a proof: none is refused
    proofs = [r.param("appsecret_proof") for r in fake.requests if r.param("appsecret_proof")]
    assert proofs and all(len(p) == 64 for p in proofs)


# --- catalog --------------------------------------------------------------------------------------
def test_catalog_lists_customer_list_audiences_across_pages(make, fake):
    destination = make()
    objects = destination.list_objects()
    assert [o.name for o in objects] == [AUDIENCE, "23853333333333333", "23855555555555555"]
    assert objects[0].label == "Newsletter subscribers"
    assert "flagged" in objects[2].label
    assert all(o.supported_modes == ("add", "remove", "mirror") for o in objects)
    pages = [r for r in fake.requests if r.path.endswith("/customaudiences")]
    assert len(pages) == 3  # 5 audiences, 2 a page
    assert [r.param("after") is None for r in pages] == [True, False, False]
    assert all(r.path == f"/v23.0/act_{ACCOUNT}/customaudiences" and r.param("fields") for r in pages)
    assert all(r.param("access_token") is None for r in fake.requests)  # the token rides in a header
    # cached: the engine's get_object + list_fields cost no further reads
    assert destination.get_object(AUDIENCE) is not None
    assert destination.get_object("23852222222222222") is None  # a website audience takes no users
    assert len([r for r in fake.requests if r.path.endswith("/customaudiences")]) == 3


def test_fields_are_meta_keys_with_identifiers_marked(make):
    fields = {f.name: f for f in make().list_fields(AUDIENCE)}
    assert set(fields) == {
        "email", "phone", "fn", "ln", "fi", "gen", "doby", "dobm", "dobd", "dob",
        "ct", "st", "zip", "country", "madid", "extern_id",
    }  # fmt: skip
    assert {n for n, f in fields.items() if f.identifier} == {"email", "phone", "madid", "extern_id"}
    assert fields["email"].type == "string"  # so pre-hashed values pass the engine's checks
    assert fields["dob"].type == "date"


# --- writes ---------------------------------------------------------------------------------------
def test_add_hashes_and_uploads_in_one_session(make, fake):
    result = make().write(AUDIENCE, "add", OutgoingBatch.of(people(3)), match_key="email")
    assert [(o.index, o.ok) for o in result.outcomes] == [(0, True), (1, True), (2, True)]
    assert result.requests == 1
    assert emails(fake) == {sha(f"p{i}@example.com") for i in range(3)}
    upload = fake.uploads[-1]
    assert upload.method == "POST" and upload.schema == ["EMAIL", "FN", "COUNTRY"]
    assert upload.data[0] == [sha("p0@example.com"), sha("pat"), sha("us")]
    session = upload.session
    assert session["batch_seq"] == 1 and session["last_batch_flag"] is True
    assert session["estimated_num_total"] == 3 and session["session_id"] > 0
    request = fake.writes("/users")[-1]
    assert request.header("authorization") == f"Bearer {TOKEN}"
    assert TOKEN not in request.path and request.param("access_token") is None


def test_remove_and_mirror_deletes_take_people_out(make, fake):
    destination = make()
    destination.write(AUDIENCE, "add", OutgoingBatch.of(people(4)), match_key="email")
    result = destination.write(AUDIENCE, "remove", OutgoingBatch.of(people(1)), match_key="email")
    assert result.outcomes[0].ok and fake.uploads[-1].method == "DELETE"
    assert emails(fake) == {sha(f"p{i}@example.com") for i in (1, 2, 3)}
    # mirror: changed rows come as upserts (added), rows that left the query as deletes of the key
    destination.write(AUDIENCE, "upsert", OutgoingBatch.of(people(1, start=9)), match_key="email")
    gone = OutgoingBatch.of([{"email": "p1@example.com"}, {"email": "P2@Example.com "}])
    result = destination.write(AUDIENCE, "delete", gone, match_key="email")
    assert [o.ok for o in result.outcomes] == [True, True]
    assert fake.uploads[-1].schema == ["EMAIL"] and fake.uploads[-1].method == "DELETE"
    assert emails(fake) == {sha("p3@example.com"), sha("p9@example.com")}


def test_a_batch_above_the_request_limit_is_one_ordered_session(make, fake):
    result = make(rows_per_request=2).write(AUDIENCE, "add", OutgoingBatch.of(people(5)), match_key="email")
    assert result.requests == 3 and all(o.ok for o in result.outcomes) and len(result.outcomes) == 5
    sessions = [u.session for u in fake.uploads]
    assert [len(u.data) for u in fake.uploads] == [2, 2, 1]
    assert len({s["session_id"] for s in sessions}) == 1
    assert [s["batch_seq"] for s in sessions] == [1, 2, 3]
    assert [s["last_batch_flag"] for s in sessions] == [False, False, True]
    assert {s["estimated_num_total"] for s in sessions} == {5}
    assert len(emails(fake)) == 5
    # the next batch is a new session
    make(rows_per_request=2).write(AUDIENCE, "add", OutgoingBatch.of(people(1, start=7)), match_key="email")
    assert fake.uploads[-1].session["session_id"] != sessions[0]["session_id"]


def test_invalid_rows_fail_alone_and_are_never_sent(make, fake):
    records = [
        {"email": "ok0@example.com"},
        {"email": "broken@@"},
        {"fn": "Nobody", "ln": "Atall"},
        {"email": "ok1@example.com", "gen": "robot"},
        {"email": "ok2@example.com", "phone": "+1 650 555 1212"},
    ]
    result = make().write(AUDIENCE, "add", OutgoingBatch.of(records), match_key="email")
    assert [o.ok for o in result.outcomes] == [True, False, False, False, True]
    failed = result.outcomes[1:4]
    assert {o.error_code for o in failed} == {ErrorCode.INVALID_FIELD_VALUE}
    assert not any(o.retryable for o in failed)
    assert failed[0].message == "email: 'broken@@' is not an email address"
    assert "no identifier" in failed[1].message and failed[2].message.startswith("gen: 'robot'")
    sent = fake.uploads[-1]
    assert len(sent.data) == 2 and sent.schema == ["EMAIL", "PHONE"]
    assert sent.data[0] == [sha("ok0@example.com"), ""]  # a key the person lacks is left blank


def test_a_batch_with_nothing_valid_sends_nothing(make, fake):
    result = make().write(AUDIENCE, "add", OutgoingBatch.of([{"email": "x"}, {"fn": "y"}]), match_key="email")
    assert result.requests == 0 and [o.ok for o in result.outcomes] == [False, False]
    assert fake.uploads == []


def test_entries_meta_samples_as_invalid_fail_by_matching_the_sent_value(make, fake):
    fake.invalid_values = {sha("p1@example.com")}
    result = make().write(AUDIENCE, "add", OutgoingBatch.of(people(3)), match_key="email")
    assert [o.ok for o in result.outcomes] == [True, False, True]
    failure = result.outcomes[1]
    assert failure.error_code == ErrorCode.INVALID_FIELD_VALUE and not failure.retryable
    assert failure.message == "Meta counted this entry as invalid: Invalid EMAIL"
    assert emails(fake) == {sha("p0@example.com"), sha("p2@example.com")}


def test_invalid_entries_meta_does_not_sample_are_accepted_with_a_warning(make, fake, caplog):
    fake.invalid_values, fake.sample_invalid = {sha("p1@example.com")}, False
    caplog.set_level(logging.WARNING, "apps.connectors.destinations.meta_ads")
    result = make().write(AUDIENCE, "add", OutgoingBatch.of(people(3)), match_key="email")
    assert all(o.ok for o in result.outcomes)
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "counted 1 invalid entries it did not sample" in warning and AUDIENCE in warning
    assert "p1@example.com" not in warning and sha("p1@example.com") not in warning


def test_a_permanent_failure_mid_session_keeps_what_was_sent(make, fake):
    fake.fail_upload(2, fake.error(2650, "(#2650) Failed to update the custom audience"))
    result = make(rows_per_request=2).write(AUDIENCE, "add", OutgoingBatch.of(people(5)), match_key="email")
    assert [o.ok for o in result.outcomes] == [True, True, False, False, False]
    assert result.outcomes[2].error_code == ErrorCode.DESTINATION_REJECTED
    assert not result.outcomes[2].retryable and "2650" in result.outcomes[2].message
    unsent = result.outcomes[4]
    assert unsent.retryable and unsent.message.startswith("Not sent: an earlier request")
    assert result.requests == 1 and len(emails(fake)) == 2


def test_a_retryable_failure_mid_session_raises_so_the_batch_is_resent(make, fake):
    fake.fail_upload(2, fake.error(2, "An unexpected error has occurred. Please retry.", is_transient=True))
    destination = make(rows_per_request=2)
    with pytest.raises(ConnectorError) as raised:
        destination.write(AUDIENCE, "add", OutgoingBatch.of(people(5)), match_key="email")
    assert raised.value.code == ErrorCode.DESTINATION_UNAVAILABLE and raised.value.retryable
    # the engine resends the whole batch: a new session, and adding twice changes nothing
    result = destination.write(AUDIENCE, "add", OutgoingBatch.of(people(5)), match_key="email")
    assert all(o.ok for o in result.outcomes) and len(emails(fake)) == 5


def test_writes_to_audiences_meta_refuses_raise(make):
    destination = make()
    for audience, meta_code in (("23855555555555555", 100), ("23852222222222222", 2650)):
        with pytest.raises(MetaApiError) as raised:
            destination.write(audience, "add", OutgoingBatch.of(people(1)), match_key="email")
        assert raised.value.code == ErrorCode.DESTINATION_REJECTED and raised.value.meta_code == meta_code
        assert not raised.value.retryable


def test_flagged_audience_message_carries_metas_explanation(make):
    with pytest.raises(MetaApiError) as raised:
        make().write("23855555555555555", "add", OutgoingBatch.of(people(1)), match_key="email")
    assert "Audience Upload Blocked: Before updating user memberships" in raised.value.message
    assert "subcode 1713230" in raised.value.message and "fbtrace_id" in raised.value.message


def test_unsupported_modes_and_object_names_are_refused(make, fake):
    destination = make()
    with pytest.raises(ConnectorError, match="Mode 'update' is not supported"):
        destination.write(AUDIENCE, "update", OutgoingBatch.of(people(1)), match_key="email")
    with pytest.raises(ConnectorError, match="not a custom audience ID") as raised:
        destination.write("../act_1/adsets", "add", OutgoingBatch.of(people(1)), match_key="email")
    assert raised.value.code == ErrorCode.SCHEMA_DRIFT
    assert fake.writes() == []


# --- errors ---------------------------------------------------------------------------------------
def test_rate_limits_on_http_400_are_retryable_with_metas_wait(make, fake):
    fake.regain_minutes = 2
    fake.throttle(1)
    with pytest.raises(MetaApiError) as raised:
        make().write(AUDIENCE, "add", OutgoingBatch.of(people(1)), match_key="email")
    error = raised.value
    assert (error.code, error.retryable, error.status) == (ErrorCode.RATE_LIMITED, True, 400)
    assert error.meta_code == 80003
    assert error.retry_after == 120.0


def test_a_bad_token_is_auth_failed(make):
    destination = make(access_token="EAAB-revoked")
    with pytest.raises(MetaApiError) as raised:
        destination.write(AUDIENCE, "add", OutgoingBatch.of(people(1)), match_key="email")
    assert raised.value.code == ErrorCode.AUTH_FAILED and raised.value.meta_code == 190
    assert not raised.value.retryable


RATE_LIMITED, UNAVAILABLE = ErrorCode.RATE_LIMITED, ErrorCode.DESTINATION_UNAVAILABLE
DENIED, REJECTED = ErrorCode.PERMISSION_DENIED, ErrorCode.DESTINATION_REJECTED
INVALID = ErrorCode.INVALID_FIELD_VALUE


@pytest.mark.parametrize(
    ("status", "error", "code", "retryable"),
    [
        (400, {"code": 17, "message": "(#17) User request limit reached"}, RATE_LIMITED, True),
        (400, {"code": 613, "message": "(#613) Calls exceeded the rate limit"}, RATE_LIMITED, True),
        (403, {"code": 4, "message": "(#4) Application request limit reached"}, RATE_LIMITED, True),
        (400, {"code": 10, "message": "(#10) Permission denied"}, DENIED, False),
        (400, {"code": 294, "message": "(#294) Requires ads_management"}, DENIED, False),
        (500, {"code": 1, "message": "An unknown error occurred"}, UNAVAILABLE, True),
        (400, {"code": 2, "message": "Service temporarily unavailable"}, UNAVAILABLE, True),
        (400, {"code": 100, "message": "Invalid parameter", "is_transient": True}, UNAVAILABLE, True),
        (400, {"code": 100, "message": "(#100) payload.data is malformed"}, INVALID, False),
        (400, {"code": 100, "message": "(#100) Invalid parameter"}, REJECTED, False),
        (400, {"code": 368, "message": "(#368) Deemed abusive"}, REJECTED, False),
    ],
)
def test_graph_errors_are_classified_by_metas_code(make, fake, status, error, code, retryable):
    fake.fail_next(status, {"error": {"type": "OAuthException", "fbtrace_id": "Atrace", **error}})
    with pytest.raises(MetaApiError) as raised:
        make().write(AUDIENCE, "add", OutgoingBatch.of(people(1)), match_key="email")
    assert (raised.value.code, raised.value.retryable, raised.value.status) == (code, retryable, status)
    assert error["message"] in raised.value.message and f"code {error['code']}" in raised.value.message


def test_a_token_echoed_by_meta_is_redacted(make, fake):
    fake.fail_next(400, {"error": {"code": 100, "message": f"Malformed access token {TOKEN}"}})
    with pytest.raises(MetaApiError) as raised:
        make().write(AUDIENCE, "add", OutgoingBatch.of(people(1)), match_key="email")
    assert TOKEN not in str(raised.value) and "[redacted]" in raised.value.message


def test_non_graph_errors_keep_the_http_classification(make, fake):
    fake.fail_next(503, b"<html><title>Service Unavailable</title></html>", {"Content-Type": "text/html"})
    with pytest.raises(ConnectorError) as raised:
        make().write(AUDIENCE, "add", OutgoingBatch.of(people(1)), match_key="email")
    assert raised.value.code == ErrorCode.DESTINATION_UNAVAILABLE and raised.value.retryable
    assert not isinstance(raised.value, MetaApiError)


def test_rate_limit_defaults_follow_the_development_tier(make):
    assert make().rate_limit() == (1.0, 5)
    assert make(rate_limit_per_second=40).rate_limit() == (40, 40)
    assert make().concurrency() == 2 and make().batch_size(AUDIENCE, "add") == 10_000
