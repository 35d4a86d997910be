"""The error responses every operation may give, documented once for the whole schema.

A drf-spectacular postprocessing hook (`SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]`)
adds the `Error` shape (`apps.core.errors.error_body`) and one response per error status
to every operation, so endpoints added later are documented without per-view edits. A
status a view already documents itself is kept as the view wrote it.
"""

from __future__ import annotations

from typing import Any

ERROR_STATUSES: dict[str, str] = {
    "400": "Bad input: malformed JSON or fields that fail validation (`fields` says which).",
    "401": "No credential, or an invalid or expired one.",
    "403": "Not allowed: no membership on this host, a role that may not do this, or a "
    "suspended tenant.",
    "404": "Unknown, or not visible to this user.",
    "409": "A state conflict, e.g. an archived channel or an escalation already closed.",
    "413": "The request body is too large.",
    "429": "Rate limited; `Retry-After` says when to try again.",
    "503": "A service the request needs is unavailable; `Retry-After` says when to retry.",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "object",
                    "description": "Per field (dotted path), what is wrong with it.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    responses = components.setdefault("responses", {})
    for status, description in ERROR_STATUSES.items():
        responses[f"Error{status}"] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            documented = operation.setdefault("responses", {})
            for status in ERROR_STATUSES:
                documented.setdefault(status, {"$ref": f"#/components/responses/Error{status}"})
    return result
