"""What a tenant schema costs: every relation is a pg_class row and at least 8 kB in each
of thousands of schemas, so a tenant schema holds only the indexes its queries use."""

from __future__ import annotations

from django.db import connection

from apps.tenancy.models import Tenant

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
    "chat_slapolicy_pkey",
    "sla_priority_unique",
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
        assert relations["i"] == TENANT_INDEXES
        assert len(relations["r"]) == 7
        # One sequence per integer key: messages, participants, SLA policies, canned
        # responses, django_migrations.
        assert len(relations["S"]) == 5
        # TOAST only where a column can be wide (channel reason, message content,
        # migration names, a rating's comment, a canned response's body); each TOAST
        # table has its index, so 43 relations in all.
        assert len(relations["t"]) == 5
        assert sum(map(len, relations.values())) + len(relations["t"]) == 43


def test_the_public_schema_keeps_the_indexes_of_the_consoles_reads() -> None:
    public = _relations("public")["i"]
    assert public >= PUBLIC_ONLY
    assert public >= TENANT_INDEXES - {"django_migrations_pkey"}
