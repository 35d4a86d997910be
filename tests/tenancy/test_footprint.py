"""What a tenant schema costs: every relation is a pg_class row and at least 8 kB in each
of thousands of schemas, so a tenant schema holds only the indexes its queries use."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.selectors import actor_for
from apps.chat import services
from apps.chat.models import Participant
from apps.chat.services.canned import canned_response_create
from apps.tenancy.models import Tenant
from tests.conftest import Org

# Each serves a query of the tenant's own: keys, uniqueness, the channel list (by
# activity, status, assignee), a user's channels, a channel's members and history.
TENANT_INDEXES = {
    "chat_channel_pkey",
    "channel_one_per_tournament",
    "channel_status_type_idx",
    "channel_type_activity_idx",
    "channel_assignee_status_idx",
    "chat_participant_pkey",
    "participant_channel_user",
    "participant_user_channel_idx",
    "chat_message_pkey",
    "message_channel_seq",
    "chat_supportticket_pkey",
    "ticket_sla_due_idx",  # open tickets by SLA due time (the channel list's sort)
    "chat_slapolicy_pkey",  # the priority: one policy per priority
    # Support-desk reports: each kind of event read by its own time range.
    "ticket_created_idx",
    "ticket_resolved_idx",
    "ticket_rated_idx",
    "channel_escalated_idx",
    # Canned responses: the key and the shortcut (unique; prefix search).
    "chat_cannedresponse_pkey",
    "canned_response_shortcut",
    "django_migrations_pkey",
}
# Only the console's reads of the public schema use these.
PUBLIC_ONLY = {"channel_tenant_status_idx", "ticket_status_priority_idx"}


def _relations(schema: str) -> dict[str, set[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, c.relname FROM pg_class c "
            "WHERE c.relnamespace = to_regnamespace(%s) "
            "UNION ALL SELECT 't', t.relname FROM pg_class c JOIN pg_class t "
            "ON t.oid = c.reltoastrelid WHERE c.relnamespace = to_regnamespace(%s)",
            [schema, schema],
        )
        found: dict[str, set[str]] = {}
        for kind, name in cursor.fetchall():
            found.setdefault(kind, set()).add(name)
    return found


def test_a_tenant_schema_holds_only_the_relations_its_queries_use(
    acme: Tenant, globex: Tenant
) -> None:
    for tenant in (acme, globex):
        relations = _relations(tenant.schema_name)
        assert relations["i"] == TENANT_INDEXES  # 20
        assert len(relations["r"]) == 7
        # Messages, participants and canned responses share one sequence; SLA policies
        # are keyed by priority; django_migrations keeps its own (Django's table).
        assert relations["S"] == {"chat_id_seq", "django_migrations_id_seq"}
        # TOAST only where a column can be wide (channel reason, message content,
        # migration names, a rating's comment, a canned response's body); each TOAST
        # table has its index, so 39 relations in all.
        assert len(relations["t"]) == 5
        assert sum(map(len, relations.values())) + len(relations["t"]) == 39


def _next_id(schema: str) -> int:
    """The id the schema's sequence gives next."""
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT last_value + is_called::int FROM "{schema}".chat_id_seq')
        (value,) = cursor.fetchone()
    return int(value)


def test_a_schemas_messages_participants_and_canned_responses_share_its_sequence(
    org: Org, other_org: Org
) -> None:
    admin = actor_for(user=org.admin, tenant=org.tenant)
    assert admin
    globex_before = _next_id("globex")

    channel = services.channel_create(actor=admin, type="TEAM")
    message = services.message_send(actor=admin, channel_id=channel.pk, content="Hello")
    canned = canned_response_create(actor=admin, shortcut="hi", title="Hi", body="Hello!")
    with schema_context("acme"):
        member = Participant.objects.get(channel_id=channel.pk, user=org.admin)

    # Numbered in the order they were written, from acme's own sequence.
    assert member.pk < message.pk < canned.pk == _next_id("acme") - 1
    assert _next_id("globex") == globex_before
    globex_admin = actor_for(user=other_org.admin, tenant=other_org.tenant)
    assert globex_admin
    services.channel_create(actor=globex_admin, type="TEAM")
    assert _next_id("globex") > globex_before


def test_the_public_schema_keeps_the_indexes_of_the_consoles_reads() -> None:
    public = _relations("public")["i"]
    assert public >= PUBLIC_ONLY
    assert public >= TENANT_INDEXES - {"django_migrations_pkey"}
