from __future__ import annotations

from apps.people.api.urls import urlpatterns
from tests.core.test_openapi import _schema


def test_schema_documents_every_people_endpoint_with_bodies():
    schema = _schema()
    paths = schema["paths"]
    for pattern in urlpatterns:
        path = "/api/" + str(pattern.pattern).replace("<int:", "{").replace(">", "}")
        assert path in paths, path
        for method, operation in paths[path].items():
            responses = operation["responses"]
            assert {"200", "201", "202", "204"} & set(responses), (path, method)
            if method in ("post", "patch") and path != "/api/auth/sessions":
                assert "requestBody" in operation, (path, method)
    accept = paths["/api/invitations/accept"]
    assert {"get", "post"} <= set(accept)
    assert accept["post"]["security"] == [{}], "accepting needs no credential"
    me = paths["/api/auth/me"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    body = schema["components"]["schemas"][me["$ref"].rsplit("/", 1)[1]]
    assert set(body["properties"]) == {"displayName"}
