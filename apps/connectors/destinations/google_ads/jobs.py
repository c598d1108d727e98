"""One write = one offline user data job: create, add operations, run, wait for it (bounded).

REST calls (https://developers.google.com/google-ads/api/rest/reference/rest/v26/customers.offlineUserDataJobs):

- ``POST /vNN/customers/{id}/offlineUserDataJobs:create`` with ``{"job": {"type":
  "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": {"userList", "consent"}}}``;
- ``POST /vNN/{job}:addOperations`` with ``{"operations": [{"create"|"remove": {"userIdentifiers"}}],
  "enablePartialFailure": true}``: refused operations come back in ``partialFailureError``, the others
  are kept. Google allows 100,000 identifiers per request (20 per operation) and recommends up to
  10,000 per call, so larger batches are sent in several requests to the same job;
- ``POST /vNN/{job}:run``, then the job's ``status`` (PENDING, RUNNING, SUCCESS, FAILED) is read with
  GAQL, as Google's own example does
  (https://developers.google.com/google-ads/api/docs/remarketing/audience-segments/customer-match/get-started).

Why a job per write: the engine commits each batch on the outcomes ``write`` returns, so a batch
needs its own verdict. A job per batch gives exactly that: its operations are this batch's records,
the partial-failure answer names the refused ones, and a failed job fails this batch only. Google
prefers few large jobs ("far more efficient to create a single large job than several smaller
jobs") and processes them asynchronously (large ones take hours), hence the counter-measures:
batches of 10,000 records, one job at a time per connection (overlapping jobs on one list risk
``CONCURRENT_MODIFICATION``), adds and removes never mixed in one job (``CONFLICTING_OPERATION``)
and a bounded wait.
Records count as written once Google accepted them (no per-operation error, ``run`` accepted);
SUCCESS confirms it, FAILED fails the batch, and a job still running when the wait ends (or whose
status cannot be read) is left to Google. A job per sync run, run at the end, would have to
acknowledge batches before Google accepted anything. Resending a batch is harmless: adding a
member twice (or removing an absent one) is a no-op.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.connectors.base import ConnectorError, ErrorCode, RecordOutcome
from apps.connectors.destinations.google_ads.errors import AdsError, ads_errors, record_failure

logger = logging.getLogger(__name__)

# Google's recommendation per AddOfflineUserDataJobOperations call (the hard limit is 100,000).
IDENTIFIERS_PER_REQUEST = 10_000
DONE = frozenset({"SUCCESS", "FAILED"})
JOB_TYPE = "CUSTOMER_MATCH_USER_LIST"

Call = Callable[[str, dict[str, Any]], Any]  # (path under the API root, JSON body) -> JSON answer


@dataclass(frozen=True)
class Prepared:
    index: int  # position of the record in the batch
    identifiers: list[dict[str, Any]]


@dataclass
class JobResult:
    failures: dict[int, RecordOutcome] = field(default_factory=dict)
    requests: int = 0
    job: str | None = None
    status: str | None = None  # last status read; None when the job was not run or not polled


class JobWriter:
    def __init__(
        self,
        call: Call,
        *,
        customer_id: str,
        api_version: str,
        consent: dict[str, str],
        wait_seconds: float,
        poll_interval: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.call, self.customer_id, self.version = call, customer_id, api_version
        self.consent, self.wait_seconds, self.poll_interval = consent, wait_seconds, poll_interval
        self.sleep, self.clock = sleep, clock

    def write(self, user_list: str, operation: str, prepared: Sequence[Prepared]) -> JobResult:
        """``operation`` is ``create`` (add to the list) or ``remove``."""
        result = JobResult()
        metadata: dict[str, Any] = {"userList": user_list}
        if operation == "create" and self.consent:
            metadata["consent"] = self.consent  # Google needs no consent to remove members
        job = {"type": JOB_TYPE, "customerMatchUserListMetadata": metadata}
        created = self._call(result, f"customers/{self.customer_id}/offlineUserDataJobs:create", {"job": job})
        result.job = str((created or {}).get("resourceName") or "")
        if not result.job:
            raise ConnectorError(
                "Google Ads answered the job creation without a job resource name",
                code=ErrorCode.DESTINATION_UNAVAILABLE,
                retryable=True,
            )
        accepted: list[int] = []
        for chunk in chunks(prepared):
            body = {
                "operations": [{operation: {"userIdentifiers": p.identifiers}} for p in chunk],
                "enablePartialFailure": True,
            }
            answer = self._call(result, f"{result.job}:addOperations", body) or {}
            refused = refused_operations(answer.get("partialFailureError"), chunk)
            result.failures.update(refused)
            accepted += [p.index for p in chunk if p.index not in refused]
        if not accepted:
            return result  # nothing to run: a job without operations is left to expire
        self._call(result, f"{result.job}:run", {})
        status, reason = self._wait(result)
        if status == "FAILED":
            message = f"Google Ads job {result.job} failed" + (f" ({reason})" if reason else "")
            for index in accepted:
                result.failures[index] = RecordOutcome(
                    index, False, error_code=ErrorCode.DESTINATION_REJECTED, message=message, retryable=True
                )
        elif status not in DONE:
            logger.info(
                "google ads: job %s still %s after %.0fs; acknowledged as accepted",
                result.job,
                status or "unchecked",
                self.wait_seconds,
            )
        return result

    def _call(self, result: JobResult, path: str, body: dict[str, Any]) -> Any:
        result.requests += 1
        return self.call(f"{self.version}/{path}", body)

    def _wait(self, result: JobResult) -> tuple[str | None, str | None]:
        if self.wait_seconds <= 0:
            return None, None
        deadline = self.clock() + self.wait_seconds
        query = (
            "SELECT offline_user_data_job.resource_name, offline_user_data_job.status, "
            "offline_user_data_job.failure_reason FROM offline_user_data_job "
            f"WHERE offline_user_data_job.resource_name = '{result.job}'"
        )
        while True:
            try:
                answer = self._call(
                    result, f"customers/{self.customer_id}/googleAds:search", {"query": query}
                )
            except ConnectorError as exc:
                # Google has accepted the job: a status read that fails ends the wait, it does not
                # fail (and resend) records Google already holds.
                logger.warning("google ads: cannot read the status of job %s: %s", result.job, exc.message)
                return result.status, None
            rows = (answer or {}).get("results") or [{}]
            job = rows[0].get("offlineUserDataJob") or {}
            result.status, reason = job.get("status"), job.get("failureReason")
            remaining = deadline - self.clock()
            if result.status in DONE or remaining <= 0:
                return result.status, reason
            self.sleep(min(self.poll_interval, remaining))


def chunks(prepared: Sequence[Prepared], limit: int | None = None) -> Iterator[list[Prepared]]:
    """Consecutive runs of records with at most ``limit`` identifiers in all."""
    limit = limit or IDENTIFIERS_PER_REQUEST
    chunk: list[Prepared] = []
    size = 0
    for item in prepared:
        if chunk and size + len(item.identifiers) > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item.identifiers)
    if chunk:
        yield chunk


def refused_operations(status: Any, chunk: Sequence[Prepared]) -> dict[int, RecordOutcome]:
    """Outcomes of the operations a partial failure refused, keyed by record index.

    An error that names no operation cannot be pinned on a record, so it fails the whole
    request's records: claiming success for a record Google may have refused would lose it.
    """
    if not isinstance(status, dict) or not status:
        return {}
    errors, request_id = ads_errors(status)
    if not errors and status.get("message"):
        errors = [AdsError(code="", message=str(status["message"]))]
    by_operation: dict[int, list[AdsError]] = {}
    for error in errors:
        targets = (
            [error.index] if error.index is not None and 0 <= error.index < len(chunk) else range(len(chunk))
        )
        for position in targets:
            by_operation.setdefault(position, []).append(error)
    suffix = f" (request id {request_id})" if request_id else ""
    outcomes = {}
    for position, found in by_operation.items():
        code, retryable = record_failure(found[0])
        index = chunk[position].index
        message = "; ".join(e.describe() for e in found) + suffix
        outcomes[index] = RecordOutcome(
            index, False, error_code=code, message=message, status=400, retryable=retryable
        )
    return outcomes
