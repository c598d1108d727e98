"""Every API error as the contract's envelope: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler


class ApiError(exceptions.APIException):
    """An error with a contract code, raised by views and services' translators."""

    def __init__(self, status_code: int, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


def conflict(message: str, details: dict | None = None) -> ApiError:
    return ApiError(status.HTTP_409_CONFLICT, "conflict", message, details)


def not_found(message: str = "Not found.", details: dict | None = None) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "not_found", message, details)


def validation_error(details: dict[str, list[str]], message: str = "The request is not valid.") -> ApiError:
    return ApiError(status.HTTP_400_BAD_REQUEST, "validation_error", message, details)


def invalid_request(message: str, details: dict | None = None) -> ApiError:
    return ApiError(status.HTTP_400_BAD_REQUEST, "invalid_request", message, details)


def body(code: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_CODES = {
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "invalid_request",
    exceptions.Throttled: "rate_limited",
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound("Not found.")
    if isinstance(exc, ApiError):
        response = Response(body(exc.error_code, str(exc.detail), exc.details), status=exc.status_code)
        return response
    response = drf_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers (as JSON under /api/)
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = body("validation_error", "The request is not valid.", _plain(details))
        return response
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    response.data = body(code, str(detail))
    return response


def _plain(details: Any) -> Any:
    if isinstance(details, dict):
        return {k: _plain(v) for k, v in details.items()}
    if isinstance(details, list):
        return [_plain(v) for v in details]
    return str(details)


def is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/v1/api/"))


def json_404(request: Any, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(body("not_found", "Not found."), status=404)


def json_500(request: Any) -> JsonResponse:
    return JsonResponse(body("internal_error", "Internal server error."), status=500)
