from __future__ import annotations

import io

import yaml
from django.core.management import call_command

from apps.chat.api.urls import urlpatterns as chat_urls
from apps.platform.api.urls import urlpatterns as console_urls
from apps.sso.api.urls import urlpatterns as sso_urls


def _schema() -> dict:
    out = io.StringIO()
    # --fail-on-warn: an endpoint whose bodies cannot be described fails the suite.
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_schema_documents_every_chat_console_and_sso_endpoint_with_bodies():
    schema = _schema()
    paths = schema["paths"]
    patterns = (
        [("/api/chat/", p) for p in chat_urls]
        + [("/api/console/", p) for p in console_urls]
        + [("/api/auth/", p) for p in sso_urls]
    )
    for prefix, pattern in patterns:
        path = prefix + str(pattern.pattern).replace("<str:", "{").replace("<int:", "{").replace(
            "<bigint:", "{"
        ).replace(">", "}")
        assert path in paths, path
        for method, operation in paths[path].items():
            assert {"200", "201", "204"} & set(operation["responses"]), (
                path,
                method,
            )
            assert operation["responses"][next(iter(operation["responses"]))].get("content") or (
                method == "delete"
            ), (path, method)
    create = paths["/api/chat/channels"]["post"]["requestBody"]["content"]["application/json"]
    body = schema["components"]["schemas"][create["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"type", "participantIds", "subject", "category", "priority", "contextId"} <= set(
        body["properties"]
    )
    assert "bearerAuth" in schema["components"]["securitySchemes"]
