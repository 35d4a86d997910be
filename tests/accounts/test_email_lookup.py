"""People are found by email whatever its case, through an index: sign-in and
provisioning do not read every account as the platform grows."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.accounts.models import User


@pytest.mark.django_db
def test_finding_someone_by_email_in_any_case_uses_the_index() -> None:
    User.objects.create_user("Mixed.Case@Example.test", "pw-123456789", display_name="M")
    found = User.objects.get_by_natural_key("mixed.case@example.TEST")
    assert found.email == "mixed.case@example.test"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows: force the choice
        plan = User.objects.filter(email__iexact="mixed.case@example.test").explain()
    assert "user_email_upper_idx" in plan
