"""python manage.py tenant_import <file> [--slug <new slug>]"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import ApplicationError
from apps.platform.restore import tenant_import


class Command(BaseCommand):
    help = (
        "Restore a tenant from its console export (GET /api/console/tenants/<slug>/export) "
        "into this database: schema, members, channels, messages, tickets, escalations. "
        "Refused if the slug is taken or the export's format version is unknown."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="The export (JSON); - reads standard input.")
        parser.add_argument("--slug", default=None, help="Import under this slug instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        try:
            if path == "-":
                document = json.load(sys.stdin)
            else:
                with open(path, encoding="utf-8") as file:
                    document = json.load(file)
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read {path}: {error}") from None
        try:
            result = tenant_import(document=document, slug=options["slug"])
        except ApplicationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.fields or {}).items())
            raise CommandError(f"{error.message} {details}".strip()) from None
        self.stdout.write(result.host)
        self.stderr.write(
            f"Imported {result.tenant.schema_name}: {result.members} members, "
            f"{result.channels} channels, {result.messages} messages, "
            f"{result.platform_tickets} platform tickets, {result.escalations} escalations."
        )
        if result.accounts_created:
            self.stderr.write(
                f"{len(result.accounts_created)} accounts created without a password: "
                f"{', '.join(result.accounts_created)}. Each signs in after a password reset "
                "(POST /api/auth/password-reset on the tenant's host) or through the "
                "tenant's identity provider."
            )
