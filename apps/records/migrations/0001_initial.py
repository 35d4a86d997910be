# The escalation index and the audit log move here from `platform`: the tables stay as
# they are (same names, same indexes), only Django's record of which app owns them moves.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("platform", "0002_audit_log"),
        ("tenancy", "0002_tenant_status_schema_template"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Escalation",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("channel_id", models.UUIDField()),
                        ("subject", models.CharField(blank=True, max_length=200)),
                        ("reason", models.TextField()),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("OPEN", "Open"),
                                    ("RESOLVED", "Resolved"),
                                    ("RETURNED", "Returned"),
                                    ("ARCHIVED", "Archived"),
                                ],
                                default="OPEN",
                                max_length=10,
                            ),
                        ),
                        ("escalated_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("closed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "escalated_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenancy.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "platform_escalation",
                        "indexes": [
                            models.Index(
                                fields=["state", "-escalated_at"], name="escalation_state_idx"
                            ),
                            models.Index(
                                fields=["tenant", "channel_id"],
                                name="escalation_tenant_channel_idx",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("actor_email", models.CharField(blank=True, max_length=254)),
                        ("action", models.CharField(max_length=40)),
                        ("tenant_slug", models.CharField(blank=True, max_length=63)),
                        ("target_type", models.CharField(blank=True, max_length=20)),
                        ("target_id", models.CharField(blank=True, max_length=64)),
                        ("details", models.JSONField(blank=True, default=dict)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="tenancy.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "platform_auditentry",
                        "indexes": [
                            models.Index(fields=["tenant_slug", "-id"], name="audit_tenant_idx"),
                            models.Index(fields=["action", "-id"], name="audit_action_idx"),
                            models.Index(fields=["actor", "-id"], name="audit_actor_idx"),
                        ],
                    },
                ),
            ],
        ),
    ]
