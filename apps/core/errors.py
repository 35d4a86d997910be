"""One shape for every error a client sees:
`{"error": {"code": "...", "message": "...", "fields": {...}}}`."""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

import psycopg
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from apps.core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ValidationError: "validation_error",
    drf.ParseError: "parse_error",
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "rate_limited",
}


# A database outage (the server restarting, the network, no pooled connection free in
# time) is temporary: clients are told to retry after this many seconds.
DB_RETRY_AFTER = 5
UNAVAILABLE = ("service_unavailable", "The service is briefly unavailable; retry shortly.")
TOO_LARGE = ("payload_too_large", "The request body is too large.")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` means the database cannot be reached now (psycopg's operational and
    interface errors, a pool timeout), as opposed to a bad query."""
    return isinstance(
        exc, (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
    )


def unavailable_response() -> JsonResponse:
    response = error_response(503, *UNAVAILABLE)
    response["Retry-After"] = str(DB_RETRY_AFTER)
    return response


def too_large_response() -> JsonResponse:
    return error_response(413, *TOO_LARGE)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def error_response(
    status: int, code: str, message: str, fields: dict[str, Any] | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code, message, fields), status=status)


def _flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors (lists of dicts for list fields); clients want `{"path": [msg]}`."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten_fields(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            fields[prefix or "nonFieldErrors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                fields.update(_flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        fields[prefix or "nonFieldErrors"] = [str(detail)]
    return {k.replace("non_field_errors", "nonFieldErrors"): v for k, v in fields.items()}


def _drf_code(exc: drf.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str) and codes != exc.default_code:
        return codes  # a specific code the raiser chose, e.g. "not_a_member"
    for cls in type(exc).__mro__:
        if cls in _DRF_CODES:
            return _DRF_CODES[cls]
    return codes if isinstance(codes, str) else "error"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, ApplicationError):
        retry = getattr(exc, "retry_after", None)  # limits.RateLimited
        headers = {"Retry-After": _retry_after(retry)} if retry is not None else None
        return Response(
            error_body(exc.code, exc.message, exc.fields), status=exc.status, headers=headers
        )
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("permission_denied", "Permission denied."), status=403)
    if isinstance(exc, drf.ValidationError):
        return Response(
            error_body("validation_error", "Invalid input.", _flatten_fields(exc.detail)),
            status=400,
        )
    if isinstance(exc, drf.APIException):
        return _drf_response(exc)
    return _server_side(exc, context)


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def _drf_response(exc: drf.APIException) -> Response:
    headers = {}
    wait = getattr(exc, "wait", None)  # set on Throttled
    if isinstance(exc, drf.Throttled) and wait is not None:
        headers["Retry-After"] = _retry_after(wait)
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        headers["WWW-Authenticate"] = "Bearer"
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return Response(
        error_body(_drf_code(exc), str(message)), status=exc.status_code, headers=headers
    )


def _server_side(exc: Exception, context: dict[str, Any]) -> Response:
    """Errors below the API: Django's body limit (413), the database unreachable (503
    with Retry-After), a value a column cannot hold (400); anything else is a 500."""
    if isinstance(exc, RequestDataTooBig):  # Django's own limit, read as DRF parses
        return Response(error_body(*TOO_LARGE), status=413)
    if database_unavailable(exc):
        logger.warning("Database unavailable in %s: %s", context.get("view"), exc)
        return Response(
            error_body(*UNAVAILABLE), status=503, headers={"Retry-After": str(DB_RETRY_AFTER)}
        )
    if isinstance(exc, DataError):  # a value the column cannot hold: the client's input
        return Response(error_body("bad_request", "Invalid input."), status=400)
    logger.exception("Unhandled error in %s", context.get("view"))
    return Response(error_body("internal_error", "Internal server error."), status=500)


# Django-level handlers (no view matched, or an error outside DRF): same shape.
def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return too_large_response()
    return error_response(400, "bad_request", "Bad request.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(403, "permission_denied", "Permission denied.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "not_found", "Not found.")


def handler500(request: HttpRequest) -> JsonResponse:
    """Also what an error raised in a middleware (tenant routing queries the database
    before any view) becomes; Django calls it while handling that error."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response()
    return error_response(500, "internal_error", "Internal server error.")
