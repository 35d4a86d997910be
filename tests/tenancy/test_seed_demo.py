from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from apps.accounts.models import Membership, User
from apps.tenancy.models import Domain


def test_seed_demo_is_idempotent(acme, globex):
    call_command("seed_demo", stdout=StringIO())
    counts = (User.objects.count(), Membership.objects.count(), Domain.objects.count())
    call_command("seed_demo", stdout=StringIO())
    assert (User.objects.count(), Membership.objects.count(), Domain.objects.count()) == counts
    assert User.objects.get(email="super@platform.test").is_super_admin
    assert Membership.objects.get(user__email="admin@acme.test").role == "TENANT_ADMIN"
    assert Membership.objects.get(user__email="player2@globex.test").tenant == globex
    assert User.objects.get(email="team@acme.test").check_password("demo-pass-123")
