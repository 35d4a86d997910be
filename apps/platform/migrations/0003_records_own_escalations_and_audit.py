# The escalation index and the audit log now belong to `records` (its 0001); their tables
# stay where they are.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("platform", "0002_audit_log"),
        ("records", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Escalation"),
                migrations.DeleteModel(name="AuditEntry"),
            ],
        ),
    ]
