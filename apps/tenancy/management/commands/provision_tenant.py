"""python manage.py provision_tenant <slug> --name "<Name>" --admin-email <email>"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import ApplicationError
from apps.tenancy.services import tenant_provision


class Command(BaseCommand):
    help = (
        "Create a tenant: its schema, its domain <slug>.<BASE_DOMAIN> and its first tenant "
        "admin (an existing account with that email, or a new one). Prints the host."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug", help="Lowercase letters and digits; the subdomain.")
        parser.add_argument("--name", required=True, help="The organisation's name.")
        parser.add_argument("--admin-email", required=True, help="The first tenant admin.")
        parser.add_argument("--admin-name", default=None, help="Display name of a new admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = tenant_provision(
                slug=options["slug"],
                name=options["name"],
                admin_email=options["admin_email"],
                admin_name=options["admin_name"],
            )
        except ApplicationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.fields or {}).items())
            raise CommandError(f"{error.message} {details}".strip()) from None
        self.stdout.write(result.host)
        if result.admin is not None and result.admin_password:
            self.stderr.write(
                f"New tenant admin {result.admin.email}, initial password: {result.admin_password}"
            )
        elif result.admin is not None:
            self.stderr.write(f"Tenant admin: {result.admin.email} (existing account)")
