"""Entering a tenant's schema on a connection that stays with a thread."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.chat.models import Channel
from apps.core.db import enter_tenant
from tests.conftest import Org, search_path, statements_run


def _sets(captured: CaptureQueriesContext) -> int:
    return sum(q["sql"].startswith("SET search_path") for q in captured.captured_queries)


def test_entering_the_schema_the_connection_is_on_costs_no_round_trip(
    org: Org, other_org: Org
) -> None:
    enter_tenant(org.tenant)
    Channel.objects.count()
    with CaptureQueriesContext(connection) as again:
        enter_tenant(org.tenant)
        Channel.objects.count()
    assert _sets(again) == 0
    assert connection.tenant is org.tenant
    with CaptureQueriesContext(connection) as other:
        enter_tenant(other_org.tenant)
        Channel.objects.count()
    assert _sets(other) == 1
    assert connection.schema_name == other_org.tenant.schema_name
    connection.set_schema_to_public()


def test_a_cursor_as_it_stands_sets_no_path_and_leaves_the_tenant_entered(
    org: Org, other_org: Org
) -> None:
    """For statements that name their schemas: the tenant entered meanwhile is still the
    one the next unqualified query reads."""
    enter_tenant(org.tenant)
    Channel.objects.count()
    enter_tenant(other_org.tenant)
    with statements_run() as plain:
        path = search_path()
    assert plain == ["SHOW search_path"]
    assert org.tenant.schema_name in path
    assert other_org.tenant.schema_name not in path
    assert connection.tenant is other_org.tenant
    with statements_run() as then:
        Channel.objects.count()
    assert then[0].startswith("SET search_path")
    assert other_org.tenant.schema_name in search_path()
    connection.set_schema_to_public()


def test_each_tenant_reads_its_own_schema_after_switching_back_and_forth(
    org: Org, other_org: Org, client_for
) -> None:
    from tests.chat.conftest import support_ticket

    acme_ticket = support_ticket(client_for(org.tenant, org.player))["id"]
    for _ in range(2):
        enter_tenant(org.tenant)
        assert Channel.objects.filter(pk=acme_ticket).exists()
        enter_tenant(other_org.tenant)
        assert not Channel.objects.filter(pk=acme_ticket).exists()
    connection.set_schema_to_public()


def test_prepared_statements_run_in_the_schema_of_the_tenant_entered(
    org: Org, other_org: Org, client_for
) -> None:
    """A message's statements are prepared on the connection after DB_PREPARE_THRESHOLD
    runs; switching tenants back and forth on that connection, each message is stored in
    its own tenant's channel, numbered in order there, and never in the other's."""
    from apps.accounts.selectors import actor_for
    from apps.chat.models import Message
    from apps.chat.services import message_send
    from tests.chat.conftest import support_ticket

    threshold = connection.connection.prepare_threshold
    assert threshold is not None and threshold > 0
    tickets = {
        org.tenant.schema_name: (org, support_ticket(client_for(org.tenant, org.player))["id"]),
        other_org.tenant.schema_name: (
            other_org,
            support_ticket(client_for(other_org.tenant, other_org.player))["id"],
        ),
    }
    for n in range(threshold + 3):
        for schema, (owner, ticket) in tickets.items():
            enter_tenant(owner.tenant)
            message_send(
                actor=actor_for(user=owner.player, tenant=owner.tenant),
                channel_id=ticket,
                content=f"{schema} {n}",
            )
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("INSERT INTO chat_message" in statement for statement in prepared)
    for schema, (owner, ticket) in tickets.items():
        enter_tenant(owner.tenant)
        stored = list(
            Message.objects.filter(channel_id=ticket).order_by("seq").values_list("seq", "content")
        )
        assert stored == [(n + 1, f"{schema} {n}") for n in range(threshold + 3)]
    connection.set_schema_to_public()
