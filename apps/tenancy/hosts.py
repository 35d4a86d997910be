"""The one reading of a Host header, for HTTP and WebSocket alike.

A host is lower-cased and loses its port and a trailing dot (`ACME.example.com.:443` is
`acme.example.com`); nothing else is rewritten. In particular `www.` is not stripped:
tenant hosts are exactly `<slug>.<BASE_DOMAIN>` (and `www` is a reserved slug), so
`www.acme.example.com` is an unknown host on both transports.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.db import models
from django.http.request import split_domain_port
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken
from apps.accounts.selectors import (
    ACTIVE_MEMBERSHIP,
    CREDENTIAL_COLUMNS,
    CREDENTIAL_PARTS,
    LIVE_TOKEN,
    TOKEN_USER,
    credential_of,
    token_hash,
)
from apps.core.db import Part, cursor_as_it_stands, fields_of, public_table, row_reader
from apps.tenancy.models import Domain, Tenant, TenantStatus

_TENANT = Part(Tenant, "t", fields_of(Tenant))
_tenant_row = row_reader([_TENANT])
# A raw cursor returns JSON columns as text (Django decodes them in the ORM's converters).
_JSON_FIELDS = [f.attname for f in Tenant._meta.concrete_fields if isinstance(f, models.JSONField)]
# Every request and socket connect asks this; written out, it costs a fraction of the
# ORM's select_related query.
_TENANT_BY_HOST_SQL = f"""
    SELECT {_TENANT.columns()}
    FROM {public_table(Tenant._meta.db_table)} t
    JOIN {public_table(Domain._meta.db_table)} d ON d.tenant_id = t.id
    WHERE d.domain = %s
"""


def host_name(host_header: str) -> str:
    """The normalised host of a `Host` header; empty when it is malformed."""
    domain, _port = split_domain_port(host_header)
    return domain


def tenant_for_host(host: str) -> Tenant | None:
    """The tenant served on a normalised host, if any (on any search path: the query
    names the public tables)."""
    if not host:
        return None
    with cursor_as_it_stands() as cursor:
        cursor.execute(_TENANT_BY_HOST_SQL, [host])
        row = cursor.fetchone()
    if row is None:
        return None
    (tenant,) = _tenant_row(row)
    return _decoded(tenant)


def _decoded(tenant: Tenant) -> Tenant:
    for name in _JSON_FIELDS:
        value = getattr(tenant, name)
        if isinstance(value, str):
            setattr(tenant, name, json.loads(value))
    return tenant


_host_and_credential_row = row_reader([_TENANT, *CREDENTIAL_PARTS])
# An API request with a bearer token: the host's tenant and the credential in one
# statement, the same answers as `tenant_for_host` then `credential_on_host` (the same
# credential rules; no role on the public host).
_HOST_AND_CREDENTIAL_SQL = f"""
    SELECT {_TENANT.columns()}, {CREDENTIAL_COLUMNS}
    FROM {public_table(Tenant._meta.db_table)} t
    JOIN {public_table(Domain._meta.db_table)} d ON d.tenant_id = t.id
    LEFT JOIN ({TOKEN_USER}) ON {LIVE_TOKEN}
    LEFT JOIN {ACTIVE_MEMBERSHIP} AND m.tenant_id = t.id AND t.schema_name <> %s
    WHERE d.domain = %s
"""

Credential = tuple[ApiToken, Actor | None]


def tenant_and_credential(host: str, raw: str) -> tuple[Tenant | None, Credential | None]:
    """The tenant served on a normalised host (None when none is) and, when there is one,
    what the bearer secret `raw` gives there (None when the token is unknown or expired),
    as `credential_on_host` answers it."""
    if not host:
        return None, None
    with cursor_as_it_stands() as cursor:
        cursor.execute(
            _HOST_AND_CREDENTIAL_SQL,
            [token_hash(raw), timezone.now(), settings.PUBLIC_SCHEMA_NAME, host],
        )
        row = cursor.fetchone()
    if row is None:
        return None, None
    tenant, token, user = _host_and_credential_row(row)
    tenant = _decoded(tenant)
    if token is None:
        return tenant, None
    return tenant, credential_of(token, user, tenant=tenant, role=row[-1])


ACTIVE_HOST_SECONDS = 5.0  # how long an active tenant's host is remembered (sockets)
_MAX_REMEMBERED = 10_000
_active_hosts: dict[str, tuple[float, Tenant]] = {}


def active_tenant_for_host(host: str) -> Tenant | None:
    """`tenant_for_host`, remembered for a few seconds while the tenant is active: for
    socket connects, which check the tenant's status again against the database once
    they are subscribed to its events (a suspension or deletion meanwhile closes them
    there). A suspended or unknown host is never remembered, so a reactivated tenant is
    served at once."""
    now = time.monotonic()
    known = _active_hosts.get(host)
    if known is not None and known[0] > now:
        return known[1]
    tenant = tenant_for_host(host)
    if tenant is not None and tenant.status == TenantStatus.ACTIVE:
        if len(_active_hosts) >= _MAX_REMEMBERED:
            _active_hosts.clear()
        _active_hosts[host] = (now + ACTIVE_HOST_SECONDS, tenant)
    else:
        _active_hosts.pop(host, None)
    return tenant
