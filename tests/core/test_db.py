"""Entering a tenant's schema on a connection that stays with a thread."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.chat.models import Channel
from apps.core.db import enter_tenant
from tests.conftest import Org


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
