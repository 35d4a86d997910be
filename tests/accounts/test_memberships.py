"""The last-admin guard holds under concurrency: two admins demoting each other at the
same moment, on two database connections, leave one admin."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from apps.accounts import memberships
from apps.accounts.models import Membership, Role, User
from apps.accounts.services import membership_set, user_create
from apps.tenancy.models import Tenant


@pytest.fixture(scope="module")
def two_admins(django_db_blocker: Any) -> Iterator[list[User]]:
    """Committed (each thread has its own connection and cannot see the test's)."""
    with django_db_blocker.unblock():
        acme = Tenant.objects.get(schema_name="acme")
        admins = []
        for n in (1, 2):
            user = user_create(
                email=f"race-admin{n}@acme.test", password="x" * 12, display_name=f"Race {n}"
            )
            membership_set(user=user, tenant=acme, role=Role.TENANT_ADMIN)
            admins.append(user)
        yield admins
        connection.set_schema_to_public()
        User.objects.filter(pk__in=[u.pk for u in admins]).delete()


def test_two_admins_demoting_each_other_at_once_leave_one_admin(two_admins, django_db_blocker):
    first, second = two_admins
    start = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def demote(user: User) -> None:
        try:
            acme = Tenant.objects.get(schema_name="acme")
            start.wait(timeout=5)
            with transaction.atomic():
                memberships.membership_role_change(
                    tenant=acme, user_id=user.pk, role=Role.PARTICIPANT
                )
                time.sleep(0.3)  # the other attempt runs while this one holds its locks
            outcomes[user.pk] = "demoted"
        except memberships.LastAdmin:
            outcomes[user.pk] = "last_admin"
        finally:
            connection.close()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=demote, args=(user,)) for user in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        roles = dict(Membership.objects.filter(user__in=two_admins).values_list("user_id", "role"))

    assert sorted(outcomes.values()) == ["demoted", "last_admin"]
    assert sorted(roles.values()) == ["PARTICIPANT", "TENANT_ADMIN"]
