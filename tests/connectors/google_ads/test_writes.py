"""Writes through offline user data jobs: add, remove, mirror's halves, partial failure, polling."""

import time

import pytest

from apps.connectors.base import ConnectorError, ErrorCode
from apps.connectors.destinations.google_ads import jobs
from apps.connectors.destinations.google_ads.jobs import JobWriter, Prepared
from apps.connectors.pii import sha256_hex
from tests.connectors.google_ads.conftest import batch

PEOPLE = [{"email": f"Person{i}@Example.com", "phone": f"+1 415 555 010{i}"} for i in range(3)]


def emails(*addresses):
    return {sha256_hex(a.lower()) for a in addresses}


def job_calls(fake):
    return [r.path.rsplit("/", 1)[-1] for r in fake.requests if r.path != "/token"]


def test_add_creates_adds_runs_and_polls_one_job(fake, make, contacts):
    result = make(ad_user_data_consent="GRANTED", ad_personalization_consent="GRANTED").write(
        contacts, "add", batch(*PEOPLE), match_key="email"
    )
    assert [o.ok for o in result.outcomes] == [True, True, True]
    assert [o.index for o in result.outcomes] == [0, 1, 2]
    assert fake.members(contacts) == emails(
        "person0@example.com", "person1@example.com", "person2@example.com"
    )
    assert sha256_hex("+14155550101") in fake.members(contacts, "hashedPhoneNumber")
    calls = job_calls(fake)
    assert calls[1:] == [
        "offlineUserDataJobs:create",
        f"{calls[2].split(':')[0]}:addOperations",
        f"{calls[2].split(':')[0]}:run",
        "googleAds:search",  # RUNNING
        "googleAds:search",  # SUCCESS
    ]
    assert result.requests == 5  # the catalog search before them is metadata, not the write
    (job,) = fake.jobs.values()
    assert job.status == "SUCCESS" and job.kind == "create"
    assert job.consent == {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
    add = next(r for r in fake.requests if r.path.endswith(":addOperations")).json
    assert add["enablePartialFailure"] is True
    assert add["operations"][0] == {
        "create": {
            "userIdentifiers": [
                {"hashedEmail": sha256_hex("person0@example.com")},
                {"hashedPhoneNumber": sha256_hex("+14155550100")},
            ]
        }
    }


def test_remove_takes_members_out_with_a_remove_job_and_no_consent(fake, make, contacts):
    destination = make(ad_user_data_consent="GRANTED")
    destination.write(contacts, "add", batch(*PEOPLE), match_key="email")
    result = destination.write(contacts, "remove", batch(PEOPLE[1]), match_key="email")
    assert result.outcomes[0].ok
    assert fake.members(contacts) == emails("person0@example.com", "person2@example.com")
    removal = list(fake.jobs.values())[-1]
    assert removal.kind == "remove" and removal.consent == {}


def test_mirror_halves_are_add_and_remove_by_key_alone(fake, make, contacts):
    destination = make()
    destination.write(contacts, "upsert", batch(*PEOPLE), match_key="email")
    result = destination.write(contacts, "delete", batch({"email": "person2@example.com"}), match_key="email")
    assert result.outcomes[0].ok
    assert fake.members(contacts) == emails("person0@example.com", "person1@example.com")


@pytest.mark.parametrize(
    ("mode", "key"), [("delete", None), ("upsert", "first_name"), ("add", "postal_code")]
)
def test_the_match_key_must_identify_a_person(make, contacts, mode, key):
    with pytest.raises(ConnectorError) as raised:
        make().write(contacts, mode, batch({"email": "a@example.com"}), match_key=key)
    assert raised.value.code == ErrorCode.DESTINATION_REJECTED and "email, phone" in raised.value.message


def test_unknown_modes_lists_and_fields_fail_the_whole_batch(make, contacts, fake):
    destination = make()
    with pytest.raises(ConnectorError, match="supported: add, remove, mirror"):
        destination.write(contacts, "update", batch({"email": "a@example.com"}), match_key="email")
    with pytest.raises(ConnectorError) as raised:
        destination.write("42", "add", batch({"email": "a@example.com"}), match_key="email")
    assert raised.value.code == ErrorCode.SCHEMA_DRIFT
    with pytest.raises(ConnectorError) as raised:
        destination.write(
            contacts, "add", batch({"email": "a@example.com", "mobile_id": "x"}), match_key="email"
        )
    assert raised.value.code == ErrorCode.SCHEMA_DRIFT and "mobile_id" in raised.value.message
    assert not fake.jobs


def test_invalid_identifiers_fail_their_record_without_a_request(fake, make, contacts):
    records = [PEOPLE[0], {"email": "broken@@"}, {"email": None, "phone": "555-0100"}, PEOPLE[1]]
    result = make().write(contacts, "add", batch(*records), match_key="email")
    assert [o.ok for o in result.outcomes] == [True, False, False, True]
    bad_email, bad_phone = result.outcomes[1], result.outcomes[2]
    assert (
        bad_email.error_code == ErrorCode.INVALID_FIELD_VALUE
        and "'broken@@' is not an email" in bad_email.message
    )
    assert (
        bad_phone.error_code == ErrorCode.INVALID_FIELD_VALUE and "default_phone_country" in bad_phone.message
    )
    assert not bad_email.retryable
    (job,) = fake.jobs.values()
    assert len(job.operations) == 2  # only the valid records were sent


def test_a_batch_without_any_valid_record_sends_nothing(fake, make, contacts):
    result = make().write(contacts, "add", batch({"email": "nope"}, {"phone": "x"}), match_key="email")
    assert not any(o.ok for o in result.outcomes) and result.requests == 0 and not fake.jobs


def test_partial_failure_fails_exactly_the_refused_records(fake, make, contacts):
    fake.reject(sha256_hex("person1@example.com"), message="Google does not take this one.")
    result = make().write(contacts, "add", batch(*PEOPLE), match_key="email")
    assert [o.ok for o in result.outcomes] == [True, False, True]
    refused = result.outcomes[1]
    assert refused.error_code == ErrorCode.INVALID_FIELD_VALUE and not refused.retryable
    assert (
        "offlineUserDataJobError.INCOMPATIBLE_USER_IDENTIFIER: Google does not take this one."
        in refused.message
    )
    assert "request id" in refused.message and refused.status == 400
    assert fake.members(contacts) == emails("person0@example.com", "person2@example.com")


def test_large_batches_go_in_several_requests_and_failures_map_back(fake, make, contacts, monkeypatch):
    monkeypatch.setattr(jobs, "IDENTIFIERS_PER_REQUEST", 4)  # 2 records (email + phone) per request
    people = [{"email": f"p{i}@example.com", "phone": f"+1 415 555 02{i:02d}"} for i in range(5)]
    fake.reject(sha256_hex("p3@example.com"))
    result = make().write(contacts, "add", batch(*people), match_key="email")
    adds = [r.json for r in fake.requests if r.path.endswith(":addOperations")]
    assert [len(a["operations"]) for a in adds] == [2, 2, 1]
    assert [o.ok for o in result.outcomes] == [True, True, True, False, True]
    assert len(fake.jobs) == 1 and len(fake.members(contacts)) == 4


def test_the_fakes_own_checks_come_back_as_partial_failures(fake, make, contacts):
    destination = make()
    writer = JobWriter(
        destination.api,
        customer_id="1234567890",
        api_version="v26",
        consent={},
        wait_seconds=5,
        poll_interval=0,
    )
    good = {"hashedEmail": sha256_hex("ok@example.com")}
    result = writer.write(
        f"customers/1234567890/userLists/{contacts}",
        "create",
        [
            Prepared(0, [{"hashedEmail": "Not-A-Digest"}]),
            Prepared(1, [good]),
            Prepared(2, [{"addressInfo": {"hashedFirstName": sha256_hex("a"), "countryCode": "US"}}]),
            Prepared(3, [{"mobileId": "6D92078A-8246-4BA4-AE5B-76104861E7DC"}]),
        ],
    )
    assert sorted(result.failures) == [0, 2, 3]
    assert "INVALID_SHA256_FORMAT" in result.failures[0].message
    assert "MISSING_USER_IDENTIFIER" in result.failures[2].message
    assert "INCOMPATIBLE_UPLOAD_KEY_TYPE" in result.failures[3].message
    assert result.status == "SUCCESS" and fake.members(contacts) == {good["hashedEmail"]}


def test_a_failed_job_fails_the_accepted_records_as_retryable(fake, make, contacts):
    fake.fail_next_job("PROCESSING_ERROR")
    result = make().write(contacts, "add", batch(*PEOPLE[:2]), match_key="email")
    assert not any(o.ok for o in result.outcomes)
    assert all(o.retryable and "failed (PROCESSING_ERROR)" in o.message for o in result.outcomes)
    assert fake.members(contacts) == set()


def test_the_wait_for_a_job_is_bounded_and_an_accepted_job_counts_as_written(fake, make, contacts):
    fake.polls_to_finish = 10_000
    started = time.monotonic()
    result = make(job_wait_seconds=0.3, job_poll_interval_seconds=0.05).write(
        contacts, "add", batch(*PEOPLE), match_key="email"
    )
    assert time.monotonic() - started < 3
    assert all(o.ok for o in result.outcomes)
    (job,) = fake.jobs.values()
    assert job.status == "RUNNING" and 2 <= job.polls <= 12
    assert fake.members(contacts) == set()  # Google has not applied it yet
    fake.finish_jobs()
    assert len(fake.members(contacts)) == 3


def test_without_a_wait_the_job_is_run_and_not_polled(fake, make, contacts):
    result = make(job_wait_seconds=0).write(contacts, "add", batch(*PEOPLE), match_key="email")
    assert result.requests == 3 and all(o.ok for o in result.outcomes)
    assert "googleAds:search" not in job_calls(fake)[1:]


def test_a_status_read_that_fails_ends_the_wait_without_failing_accepted_records(
    fake, make, contacts, monkeypatch
):
    def broken(job):
        raise RuntimeError("status store down")

    monkeypatch.setattr(fake, "_poll", broken)  # the fake answers 500 to the job status query
    result = make().write(contacts, "add", batch(*PEOPLE), match_key="email")
    assert all(o.ok for o in result.outcomes)
    assert job_calls(fake)[-1] == "googleAds:search" and result.requests == 4
    (job,) = fake.jobs.values()
    assert job.started and len(job.operations) == 3
