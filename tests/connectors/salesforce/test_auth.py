"""OAuth against the fake org: both flows, the session kept and renewed once, clear failures."""

from __future__ import annotations

import socket
import threading

import pytest

from apps.connectors.base import ConnectorError, ErrorCode, OutgoingBatch
from tests.connectors.salesforce.conftest import connect
from tests.fakes.salesforce import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeSalesforce, errors
from tests.fakes.vendor_server import FakeResponse


def contact(i: int, **fields) -> dict:
    return {"External_Id__c": f"k{i}", "LastName": f"Last {i}", **fields}


def upsert(destination, *records):
    return destination.write("Contact", "upsert", OutgoingBatch.of(list(records)), match_key="External_Id__c")


def api_requests(org: FakeSalesforce) -> list:
    return [r for r in org.requests if r.path.startswith("/services/data/")]


def test_client_credentials_flow(org, sf):
    result = upsert(sf, contact(1))
    assert result.outcomes[0].ok
    [token_request] = [r for r in org.requests if r.path == "/services/oauth2/token"]
    assert token_request.method == "POST"
    assert token_request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert org.token_requests == [
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ]
    [write] = org.collection_writes()
    assert write.header("Authorization") == f"Bearer {next(iter(org.sessions))}"


def test_refresh_token_flow(org, make):
    sf = make(auth=org.refresh_token_auth())
    assert sf.check().ok
    assert org.token_requests[0] == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }
    assert upsert(sf, contact(1)).outcomes[0].ok


def test_the_session_is_kept_across_calls(org, sf):
    sf.list_objects()
    sf.list_fields("Contact")
    upsert(sf, contact(1))
    assert len(org.token_requests) == 1 and len(api_requests(org)) == 3


def test_an_expired_session_is_renewed_once_and_the_request_resent(org, sf):
    upsert(sf, contact(1))
    org.expire_sessions()
    result = upsert(sf, contact(2))
    assert result.outcomes[0].ok and org.find("Contact", External_Id__c="k2") is not None
    assert len(org.token_requests) == 2
    first, second = org.collection_writes()[1:]
    assert first.header("Authorization") != second.header("Authorization")  # the new session


def test_a_session_refused_again_after_renewal_fails_as_auth_failed(org, sf):
    org.authenticate = lambda request: errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
    with pytest.raises(ConnectorError) as raised:
        upsert(sf, contact(1))
    assert raised.value.code == ErrorCode.AUTH_FAILED and raised.value.status == 401
    assert not raised.value.retryable
    assert "INVALID_SESSION_ID: Session expired or invalid" in raised.value.message
    assert len(org.token_requests) == 2  # one renewal, not a loop


def test_a_revoked_refresh_token_fails_the_renewal(org, make):
    sf = make(auth=org.refresh_token_auth())
    upsert(sf, contact(1))
    org.expire_sessions()
    org.refresh_tokens.clear()
    with pytest.raises(ConnectorError) as raised:
        upsert(sf, contact(2))
    assert raised.value.code == ErrorCode.AUTH_FAILED and raised.value.status == 400
    assert "invalid_grant" in raised.value.message and "authorise the app again" in raised.value.message


def test_rotated_refresh_tokens_are_used_and_redacted():
    with FakeSalesforce(rotate_refresh_tokens=True) as org:
        sf = connect(org, auth=org.refresh_token_auth())
        upsert(sf, contact(1))
        org.expire_sessions()
        assert upsert(sf, contact(2)).outcomes[0].ok
        rotated = org.token_requests[1]["refresh_token"]
        assert rotated != REFRESH_TOKEN and rotated in sf.secrets()
        sf.close()


def test_sessions_renewed_by_concurrent_writers_are_fetched_once(org, sf):
    upsert(sf, contact(0))
    org.expire_sessions()
    failures: list[Exception] = []

    def write(i: int) -> None:
        try:
            assert upsert(sf, contact(i)).outcomes[0].ok
        except Exception as exc:  # collected: an assertion in a thread would be lost
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(org.records["Contact"]) == 5
    assert len(org.token_requests) == 2


def test_configured_instance_url_wins_over_the_token_response(org):
    with FakeSalesforce() as instance:
        instance.sessions = org.sessions  # one org behind two hosts: login on one, API on the other
        sf = connect(org, instance_url=instance.url)
        assert sf.check().ok
        assert sf.base_url == instance.url
        assert api_requests(instance) and not api_requests(org)
        sf.close()


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"client_secret": "wrong-secret"}, "invalid_client: invalid client credentials"),
        ({"client_id": "unknown-app"}, "invalid_client_id: client identifier invalid"),
    ],
)
def test_check_explains_refused_client_credentials(org, make, auth, expected):
    result = make(auth={**org.client_credentials(), **auth}).check()
    assert not result.ok and expected in result.message
    assert "wrong-secret" not in result.message
    assert "consumer key" in result.message


def test_check_explains_a_bad_refresh_token(org, make):
    result = make(auth=org.refresh_token_auth("stale-token")).check()
    assert not result.ok
    assert "invalid_grant: expired access/refresh token" in result.message
    assert "authorise the app again" in result.message and "stale-token" not in result.message


def test_check_explains_an_unreachable_login_host(org):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: connections are refused
        sf = connect(org, login_url=f"http://127.0.0.1:{closed}", timeout_seconds=2)
        result = sf.check()
    assert not result.ok and "not reachable" in result.message and str(closed) in result.message


def test_check_explains_a_login_url_that_is_not_salesforce(org, make):
    result = make(login_url=org.url + "/not-login").check()
    assert not result.ok and "is login_url a Salesforce login URL?" in result.message


def test_check_reports_an_unsupported_api_version(org, make):
    result = make(api_version="v99.0").check()
    assert not result.ok and "NOT_FOUND" in result.message and "404" in result.message


def test_check_reports_the_org_and_its_api_usage(org, sf):
    result = sf.check()
    assert result.ok and org.url in result.message and "api-usage=" in result.message
    assert "writable" in result.message


def test_the_session_is_redacted_from_vendor_messages(org, sf):
    sf.check()
    token = next(iter(org.sessions))
    org.fail_next(500, [{"message": f"internal error in session {token}", "errorCode": "UNKNOWN_EXCEPTION"}])
    with pytest.raises(ConnectorError) as raised:
        upsert(sf, contact(1))
    assert token not in raised.value.message and "[redacted]" in raised.value.message
    assert raised.value.code == ErrorCode.DESTINATION_UNAVAILABLE and raised.value.retryable


def test_client_credentials_on_the_wrong_domain_hints_at_my_domain(org, make):
    org._token = lambda request: FakeResponse(
        400, {"error": "invalid_grant", "error_description": "request not supported on this domain"}
    )
    result = make().check()
    assert not result.ok and "My Domain URL as login_url" in result.message
