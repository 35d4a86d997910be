"""Creates the demo tenants and accounts (README). Safe to run again: existing data is
kept, and missing pieces are added."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import Role, User
from apps.accounts.services import membership_set, user_create
from apps.tenancy.models import Tenant
from apps.tenancy.services import public_tenant_ensure, tenant_host, tenant_provision

DEMO_PASSWORD = "demo-pass-123"
DEMO_TENANTS = {"acme": "Acme Quiz League", "globex": "Globex Trivia Club"}
DEMO_PEOPLE = [
    ("admin", "Admin", Role.TENANT_ADMIN),
    ("team", "Team", Role.MANAGEMENT_TEAM),
    ("player", "Player", Role.PARTICIPANT),
    ("player2", "Player Two", Role.PARTICIPANT),
]


def _user(email: str, display_name: str, *, is_super_admin: bool = False) -> User:
    existing = User.objects.filter(email=email).first()
    if existing:
        return existing
    return user_create(
        email=email,
        password=DEMO_PASSWORD,
        display_name=display_name,
        is_super_admin=is_super_admin,
    )


class Command(BaseCommand):
    help = "Create the demo tenants (acme, globex) and their accounts; idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        public_tenant_ensure()
        accounts = [("super@platform.test", "super admin", "every host")]
        _user("super@platform.test", "Platform Super Admin", is_super_admin=True)
        for slug, name in DEMO_TENANTS.items():
            tenant = Tenant.objects.filter(schema_name=slug).first()
            if tenant is None:
                tenant = tenant_provision(slug=slug, name=name).tenant
            with transaction.atomic():
                for local, label, role in DEMO_PEOPLE:
                    email = f"{local}@{slug}.test"
                    user = _user(email, f"{name.split()[0]} {label}")
                    membership_set(user=user, tenant=tenant, role=role)
                    accounts.append((email, role.value, tenant_host(slug)))
        self.stdout.write(f"Demo accounts (password: {DEMO_PASSWORD}):")
        for email, role_name, host in accounts:
            self.stdout.write(f"  {email:<24} {role_name:<16} {host}")
        port = settings.SERVER_PORT
        self.stdout.write(
            "\nTry:\n"
            f"  curl -s -X POST http://acme.{settings.BASE_DOMAIN}:{port}/api/auth/login "
            "-H 'Content-Type: application/json' "
            f'-d \'{{"email": "admin@acme.test", "password": "{DEMO_PASSWORD}"}}\'\n'
            f"  API docs: http://{settings.BASE_DOMAIN}:{port}/api/docs/\n"
        )
