from django.conf import settings
from django.db import migrations, models

# Tenant requests run with the search path "<tenant>, public": everything named in full.
PUBLIC = f'"{settings.PUBLIC_SCHEMA_NAME}"'
TENANTS = f"{PUBLIC}.tenancy_tenant"
TALLY = f"{PUBLIC}.records_tenanttally"
FUNCTION = f"{PUBLIC}.records_tenanttally_follow"
PUBLIC_NAME = settings.PUBLIC_SCHEMA_NAME.replace("'", "''")


def _add(row: str, delta: int) -> str:
    return (
        f"IF {row}.schema_name <> '{PUBLIC_NAME}' THEN "
        f"INSERT INTO {TALLY} AS t (status, tenants) VALUES ({row}.status, {delta}) "
        f"ON CONFLICT (status) DO UPDATE SET tenants = t.tenants + EXCLUDED.tenants; "
        "END IF;"
    )


CREATE_FUNCTION = f"""
CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status = OLD.status AND NEW.schema_name = OLD.schema_name THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        {_add("OLD", -1)}
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {_add("NEW", 1)}
    END IF;
    RETURN NULL;
END
$$"""

# The tally starts as a count, taken while writers wait.
FILL = (
    f"LOCK TABLE {TENANTS} IN SHARE MODE",
    f"INSERT INTO {TALLY} (status, tenants) SELECT status, count(*) FROM {TENANTS} "
    f"WHERE schema_name <> '{PUBLIC_NAME}' GROUP BY status",
)


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0005_platform_count"),
        ("tenancy", "0004_sla"),
    ]

    operations = [
        migrations.CreateModel(
            name="TenantTally",
            fields=[
                ("status", models.CharField(max_length=20, primary_key=True, serialize=False)),
                ("tenants", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunSQL(
            [
                *FILL,
                CREATE_FUNCTION,
                f"CREATE TRIGGER records_tenanttally_follow "
                f"AFTER INSERT OR DELETE OR UPDATE OF status, schema_name ON {TENANTS} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
            ],
            [
                f"DROP TRIGGER records_tenanttally_follow ON {TENANTS}",
                f"DROP FUNCTION {FUNCTION}()",
            ],
        ),
    ]
