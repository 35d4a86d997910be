"""Reading one table across many tenant schemas in one statement."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.chat.models import Channel
from apps.tenancy import schemas
from apps.tenancy.models import Tenant

COUNT = "SELECT {name}, count(*) FROM {schema}.chat_channel"


def test_rows_per_schema_reads_each_schema(acme: Tenant, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user(acme)
    with schema_context("acme"):
        Channel.objects.create(type="TEAM", created_by=user)
    rows = dict(schemas.rows_per_schema(["acme", "globex"], "chat_channel", COUNT))
    assert rows == {"acme": 1, "globex": 0}


def test_missing_schemas_are_left_out() -> None:
    rows = dict(schemas.rows_per_schema(["acme", "nosuchschema"], "chat_channel", COUNT))
    assert set(rows) == {"acme"}


def test_a_schema_dropped_between_listing_and_reading_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = schemas.with_table
    calls = []

    def stale_first(names, table):  # type: ignore[no-untyped-def]
        calls.append(list(names))
        found = real(names, table)
        return found + ["droppedmeanwhile"] if len(calls) == 1 else found

    monkeypatch.setattr(schemas, "with_table", stale_first)
    rows = dict(schemas.rows_per_schema(["acme", "globex"], "chat_channel", COUNT))
    assert set(rows) == {"acme", "globex"} and len(calls) == 2
