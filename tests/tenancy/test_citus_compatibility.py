"""What Citus schema-based sharding needs (deploy/SCALING.md): each tenant schema may live
on another node, so no statement may name two tenant schemas (a join, a subquery or a
UNION between tenants). Tenant tables may reference public tables (reference tables under
Citus); the console reads across tenants through public tables.

Every SQL statement of a representative run of requests, on two tenants' hosts and the
console, is recorded with Django's `execute_wrapper`; none may name two tenant schemas.
(The maintenance commands that read every schema in batches, `recount` and
`migrate_schemas`' plan, go through `apps.tenancy.schemas` and are not requests.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from psycopg import sql as psql

from apps.tenancy.models import Tenant
from tests.chat.conftest import support_ticket
from tests.conftest import Org


def tenant_schemas_named(statement: str, schemas: set[str]) -> set[str]:
    """The tenant schemas a statement names as qualifiers (`acme.table`, `"acme"."t"`),
    not inside string literals, nor as values passed apart."""
    code = re.sub(r"'(?:[^']|'')*'", "''", statement)  # literals out
    named = re.findall(r'(?<![\w."])"?([a-z_][a-z0-9_]*)"?\s*\.\s*"?[a-z_]', code, re.IGNORECASE)
    return {name for name in named if name in schemas}


@contextmanager
def recorded_sql() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any) -> Any:
        text = sql if isinstance(sql, str) else sql.as_string(context["connection"].connection)
        statements.append(text)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def test_the_detector_sees_a_join_between_two_tenant_schemas():
    schemas = {"acme", "globex"}
    joined = 'SELECT * FROM "acme"."chat_channel" a JOIN globex.chat_channel g ON a.id = g.id'
    assert tenant_schemas_named(joined, schemas) == {"acme", "globex"}
    composed = psql.SQL("SELECT 1 FROM {}.t UNION ALL SELECT 1 FROM {}.t").format(
        psql.Identifier("acme"), psql.Identifier("globex")
    )
    assert tenant_schemas_named(composed.as_string(connection.connection), schemas) == schemas
    assert tenant_schemas_named("SELECT 1 WHERE domain = 'acme.localhost'", schemas) == set()
    assert tenant_schemas_named('SET search_path = "acme", "public"', schemas) == set()


def _tenant_requests(client: Any, org: Org) -> None:
    player = client(org.tenant, org.player)
    admin = client(org.tenant, org.admin)
    ticket = support_ticket(player)
    path = f"/api/chat/channels/{ticket['id']}"
    sent = player.post(f"{path}/messages", {"content": "hello"}, format="json").json()
    admin.post(f"{path}/messages", {"content": "on it"}, format="json")
    assert admin.get("/api/chat/channels").status_code == 200
    assert admin.get(path).status_code == 200
    assert player.get(f"{path}/messages?after={sent['id']}").status_code == 200
    assert player.get("/api/chat/unread").status_code == 200
    admin.put(f"{path}/assign", {"assigneeId": org.team.pk}, format="json")
    admin.put(f"{path}/escalate", {"reason": "needs the platform"}, format="json")
    admin.post(
        "/api/chat/channels",
        {"type": "PLATFORM_SUPPORT", "subject": "Billing"},
        format="json",
    )
    assert admin.get("/api/members").status_code == 200
    assert admin.get("/api/audit").status_code == 200


def test_no_request_names_two_tenant_schemas(
    client_for: Any, org: Org, other_org: Org, public_tenant: Tenant, super_admin: Any
) -> None:
    schemas = set(
        Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True)
    )
    with recorded_sql() as statements:
        _tenant_requests(client_for, org)
        _tenant_requests(client_for, other_org)
        console = client_for(public_tenant, super_admin)
        for path in (
            "/api/console/tenants",
            "/api/console/tenants/acme",
            "/api/console/figures",
            "/api/console/tickets",
            "/api/console/escalations",
            "/api/console/audit",
            "/api/chat/channels",
        ):
            assert console.get(path).status_code == 200, path
        escalations = console.get("/api/console/escalations").json()["escalations"]
        assert {e["tenant"] for e in escalations} >= {"acme", "globex"}
        for escalation in escalations:
            path = f"/api/console/escalations/{escalation['id']}"
            assert console.get(path).status_code == 200
            assert console.get(f"{path}/messages").status_code == 200
    assert len(statements) > 100  # the run did reach the database
    crossing = [s for s in statements if len(tenant_schemas_named(s, schemas)) > 1]
    assert crossing == []
