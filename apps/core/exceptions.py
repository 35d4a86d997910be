"""Domain errors. Services raise these; each transport maps them (REST: HTTP status and
the JSON error shape; WebSocket: an `error` frame)."""

from __future__ import annotations


class ApplicationError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields


class InvalidInput(ApplicationError):
    status = 400
    code = "validation_error"


class Forbidden(ApplicationError):
    status = 403
    code = "permission_denied"


class NotFound(ApplicationError):
    """Also what a caller gets for an object that exists but is not theirs to see."""

    status = 404
    code = "not_found"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class ServiceUnavailable(ApplicationError):
    """Something the answer needs is briefly away (503 with Retry-After)."""

    status = 503
    code = "service_unavailable"
    retry_after = 5
