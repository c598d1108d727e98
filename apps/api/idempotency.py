"""Idempotency-Key on POST: the same key with the same body within 24 h returns the first
response and does nothing twice; the same key with another body is a 409."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import orjson
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.auth import ApiPrincipal
from apps.api.errors import conflict, invalid_request
from apps.api.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
TTL = dt.timedelta(hours=24)


def idempotent(request: Request, handler: Callable[[], Response]) -> Response:
    key = request.META.get(HEADER, "").strip()
    if not key:
        return handler()
    if len(key) > 255:
        raise invalid_request("Idempotency-Key must be at most 255 characters.")
    principal: ApiPrincipal = request.user
    fingerprint = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + (request.body or b"")
    ).hexdigest()
    since = timezone.now() - TTL
    IdempotencyRecord.objects.filter(api_key=principal.api_key, key=key, created_at__lt=since).delete()
    existing = IdempotencyRecord.objects.filter(api_key=principal.api_key, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    response = handler()
    if response.status_code < 500:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    api_key=principal.api_key,
                    key=key,
                    request_hash=fingerprint,
                    method=request.method,
                    path=request.path,
                    status_code=response.status_code,
                    response_body=orjson.loads(orjson.dumps(response.data)),
                )
        except IntegrityError:  # a concurrent request with the same key won the race
            return _replay(IdempotencyRecord.objects.get(api_key=principal.api_key, key=key), fingerprint)
    return response


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_hash != fingerprint:
        raise conflict(
            "This Idempotency-Key was already used with a different request.",
            {"idempotency_key": ["Reused with another method, path or body."]},
        )
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response
