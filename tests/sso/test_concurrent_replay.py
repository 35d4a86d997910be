"""Two exchanges of one assertion at the same moment, each in its own committed
transaction on its own connection: exactly one signs in."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from apps.accounts.models import IdentityProvider, SsoAssertionUse, User
from apps.core.exceptions import ApplicationError
from apps.records.models import AuditEntry
from apps.sso.exchange import sso_exchange
from apps.tenancy.models import Tenant
from tests.conftest import host_of
from tests.sso.conftest import Platform

EMAIL = "racer@platform-users.test"


@pytest.fixture(scope="module")
def raced(django_db_blocker: Any, platforms: dict[str, Platform]) -> Any:
    platform = platforms["RS256"]
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def attempt(tenant: Tenant, assertion: str) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                sso_exchange(tenant=tenant, audience=host_of(tenant), assertion=assertion)
            )
        except ApplicationError as exc:
            results.append(exc)
        finally:
            connection.close()

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        acme = Tenant.objects.get(schema_name="acme")
        IdentityProvider.objects.create(
            tenant=acme,
            issuer=platform.issuer,
            algorithm="RS256",
            public_key=platform.config["publicKey"],
            allowed_roles=["PARTICIPANT"],
        )
        assertion = platform.sign(acme, sub="racer", email=EMAIL)
        threads = [threading.Thread(target=attempt, args=(acme, assertion)) for _ in range(2)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            yield results, User.objects.filter(email=EMAIL).count()
        finally:
            User.objects.filter(email=EMAIL).delete()
            AuditEntry.objects.filter(tenant=acme, action__startswith="sso.").delete()
            SsoAssertionUse.objects.filter(tenant=acme).delete()
            IdentityProvider.objects.filter(tenant=acme).delete()


def test_two_concurrent_exchanges_of_one_assertion_one_wins(raced: Any) -> None:
    results, accounts = raced
    assert len(results) == 2
    codes = sorted(getattr(r, "code", "signed_in") for r in results)
    assert codes == ["signed_in", "sso_replayed"]
    assert accounts == 1
