from __future__ import annotations

from django.db import connection

from apps.tenancy.models import Domain, Tenant

_TENANT_FIELDS = [field.attname for field in Tenant._meta.concrete_fields]
# Every request and socket connect asks this; written out, it costs a fraction of the
# ORM's select_related query.
_TENANT_BY_HOST_SQL = """
    SELECT {columns} FROM {tenant} t JOIN {domain} d ON d.tenant_id = t.{pk} WHERE d.domain = %s
""".format(
    columns=", ".join(
        f"t.{connection.ops.quote_name(f.column)}" for f in Tenant._meta.concrete_fields
    ),
    tenant=connection.ops.quote_name(Tenant._meta.db_table),
    domain=connection.ops.quote_name(Domain._meta.db_table),
    pk=connection.ops.quote_name(Tenant._meta.pk.column),
)


def tenant_for_host(host: str) -> Tenant | None:
    """The tenant served on a host name (already without its port); None when none is.
    The connection must be on the public schema (the middleware puts it there)."""
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_BY_HOST_SQL, [host])
        row = cursor.fetchone()
    if row is None:
        return None
    return Tenant.from_db(connection.alias, _TENANT_FIELDS, row)
