"""Whole-request failures, classified from Google's error bodies, and the OAuth token's life."""

import pytest

from apps.connectors.base import ConnectorError, ErrorCode
from tests.connectors.google_ads.conftest import batch
from tests.fakes.google_ads import ads_error, error

ONE = batch({"email": "dana@example.com"})


def write_error(destination, list_id) -> ConnectorError:
    with pytest.raises(ConnectorError) as raised:
        destination.write(list_id, "add", ONE, match_key="email")
    return raised.value


def test_resource_exhausted_is_rate_limited_and_honours_googles_retry_delay(fake, make, contacts):
    fake.retry_delay = "2.5s"
    fake.throttle(1)
    exc = write_error(make(), contacts)
    assert exc.code == ErrorCode.RATE_LIMITED and exc.retryable and exc.status == 429
    assert exc.retry_after == 2.5
    assert "quotaError.RESOURCE_EXHAUSTED: Too many requests. Retry in 2.5 seconds." in exc.message
    assert "request id" in exc.message


def failing(status, grpc, code, retryable, category=None, value=None, message="The service said no."):
    errors = [ads_error(category, value, message)] if category else []
    return pytest.param(status, grpc, errors, code, retryable, id=value or grpc)


CONCURRENT = "Multiple requests were attempting to modify the same resource at once. Retry the request."


@pytest.mark.parametrize(
    ("status", "grpc", "errors", "code", "retryable"),
    [
        failing(503, "UNAVAILABLE", ErrorCode.DESTINATION_UNAVAILABLE, True),
        failing(500, "INTERNAL", ErrorCode.DESTINATION_UNAVAILABLE, True, "internalError", "INTERNAL_ERROR"),
        failing(409, "ABORTED", ErrorCode.DESTINATION_REJECTED, True, "databaseError",
                "CONCURRENT_MODIFICATION", CONCURRENT),
        failing(403, "PERMISSION_DENIED", ErrorCode.PERMISSION_DENIED, False, "authorizationError",
                "CUSTOMER_NOT_ENABLED", "The customer account can't be accessed."),
        failing(400, "INVALID_ARGUMENT", ErrorCode.SCHEMA_DRIFT, False, "offlineUserDataJobError",
                "INVALID_USER_LIST_ID", "The user list ID provided for the job is invalid."),
        failing(400, "INVALID_ARGUMENT", ErrorCode.DESTINATION_REJECTED, False, "requestError", "UNKNOWN"),
    ],
)  # fmt: skip
def test_google_errors_are_classified(fake, make, contacts, status, grpc, errors, code, retryable):
    response = error(status, grpc, "The service said no.", errors)
    fake.fail_next(response.status, response.body)
    exc = write_error(make(), contacts)
    assert (exc.code, exc.retryable, exc.status) == (code, retryable, status)
    assert f"HTTP {status} {grpc}" in exc.message
    assert (errors[0]["message"] if errors else "The service said no.") in exc.message


def test_a_request_over_googles_identifier_limit_is_refused_whole(fake, make, contacts):
    fake.max_identifiers_per_request = 1
    with pytest.raises(ConnectorError) as raised:
        make().write(
            contacts, "add", batch({"email": "a@example.com", "phone": "+14155550100"}), match_key="email"
        )
    exc = raised.value
    assert exc.code == ErrorCode.DESTINATION_REJECTED and not exc.retryable
    assert "TOO_MANY_USER_IDENTIFIERS" in exc.message and fake.members(contacts) == set()


def test_the_access_token_is_cached_and_renewed_once_after_a_401(fake, make, contacts):
    destination = make()
    destination.write(contacts, "add", ONE, match_key="email")
    destination.write(contacts, "remove", ONE, match_key="email")
    assert fake.token_requests == 1
    fake.revoke_access_tokens()
    result = destination.write(contacts, "add", ONE, match_key="email")
    assert result.outcomes[0].ok and fake.token_requests == 2
    refused = [r for r in fake.requests if r.path.endswith("offlineUserDataJobs:create")]
    assert len(refused) == 4  # 3 jobs, one of them created twice: first with the revoked token


def test_a_token_refused_twice_fails_as_auth_failed(fake, make, contacts):
    destination = make()
    destination.list_objects()
    fake.revoke_access_tokens(including_new=True)
    exc = write_error(destination, contacts)
    assert exc.code == ErrorCode.AUTH_FAILED and exc.status == 401 and not exc.retryable
    assert "Request had invalid authentication credentials" in exc.message
    assert fake.token_requests == 2


def test_a_revoked_refresh_token_fails_before_any_api_call(fake, make, contacts):
    exc = write_error(make(refresh_token="1//revoked-000"), contacts)
    assert exc.code == ErrorCode.AUTH_FAILED and exc.status == 400 and not exc.retryable
    assert "invalid_grant" in exc.message and "authorise the connection again" in exc.message
    assert [r.path for r in fake.requests] == ["/token"]
    assert "1//revoked-000" not in exc.message


def test_runtime_access_tokens_are_redacted_from_messages(fake, make, contacts):
    destination = make()
    destination.list_objects()
    token = destination._tokens.current
    assert token and token in destination.secrets()
    response = error(400, "INVALID_ARGUMENT", f"Token {token} is odd.")
    fake.fail_next(response.status, response.body)
    exc = write_error(destination, contacts)
    assert token not in exc.message and "[redacted]" in exc.message
