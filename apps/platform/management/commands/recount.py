"""python manage.py recount"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from apps.platform.recount import recount


class Command(BaseCommand):
    help = (
        "Rebuild the tenant counters behind the console's figures and the support-desk "
        "rollups behind its reports from the tenant schemas, a few schemas at a time."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        count = recount()
        if int(options.get("verbosity", 1)) >= 1:
            self.stdout.write(f"{count} tenants recounted ({time.perf_counter() - started:.2f}s)")
