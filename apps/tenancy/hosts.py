"""The one reading of a Host header, for HTTP and WebSocket alike.

A host is lower-cased and loses its port and a trailing dot (`ACME.example.com.:443` is
`acme.example.com`); nothing else is rewritten. In particular `www.` is not stripped:
tenant hosts are exactly `<slug>.<BASE_DOMAIN>` (and `www` is a reserved slug), so
`www.acme.example.com` is an unknown host on both transports.
"""

from __future__ import annotations

import json

from django.db import connection, models
from django.http.request import split_domain_port

from apps.tenancy.models import Domain, Tenant

_TENANT_FIELDS = [field.attname for field in Tenant._meta.concrete_fields]
# A raw cursor returns JSON columns as text (Django decodes them in the ORM's converters).
_JSON_FIELDS = [f.attname for f in Tenant._meta.concrete_fields if isinstance(f, models.JSONField)]
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


def host_name(host_header: str) -> str:
    """The normalised host of a `Host` header; empty when it is malformed."""
    domain, _port = split_domain_port(host_header)
    return domain


def tenant_for_host(host: str) -> Tenant | None:
    """The tenant served on a normalised host, if any (the connection must be on the
    public schema)."""
    if not host:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_TENANT_BY_HOST_SQL, [host])
        row = cursor.fetchone()
    if row is None:
        return None
    tenant = Tenant.from_db(connection.alias, _TENANT_FIELDS, row)
    for name in _JSON_FIELDS:
        value = getattr(tenant, name)
        if isinstance(value, str):
            setattr(tenant, name, json.loads(value))
    return tenant
